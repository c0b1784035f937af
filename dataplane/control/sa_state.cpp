#include "dataplane/control/sa_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/write_all.h"

namespace espgw::dp {

uint64_t SaStateFile::jump(uint64_t peak_pps, uint32_t interval_ms) noexcept {
  // 4 intervals at the peak rate; a rate so high that this overflows jumps the most there is.
  const uint64_t ms = uint64_t{4} * (interval_ms == 0 ? 1000 : interval_ms);
  if (peak_pps > UINT64_MAX / ms) return UINT64_MAX / 2;
  return std::max(kMinJump, peak_pps * ms / 1000);
}

SaStateFile::~SaStateFile() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

bool SaStateFile::lock(std::string* error) {
  const std::string lock_path = path_ + ".lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return true;
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
    // The holder's pid, for the message of an espgw that finds the lock taken.
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) == 0) (void)write_all(fd, pid);
    lock_fd_ = fd;
    return true;
  }
  const int err = errno;
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  ::close(fd);
  if (err != EWOULDBLOCK) return true;
  std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' '))
    holder.pop_back();
  *error = path_ + " is the SA state file of another running espgw (" +
           (holder.empty() ? std::string("a process") : "pid " + holder) + " holds " + lock_path +
           ")";
  return false;
}

std::string SaStateFile::load(uint64_t now_ms, const std::string& fallback) {
  std::string from = path_;
  std::ifstream in(from, std::ios::binary);
  if (!in && errno == ENOENT && !fallback.empty()) {
    from = fallback;
    in.open(from, std::ios::binary);
  }
  if (!in) return errno == ENOENT ? "" : from + ": cannot open: " + std::strerror(errno);
  loaded_from_ = from;
  std::stringstream ss;
  ss << in.rdbuf();
  std::vector<SaStateRecord> got;
  try {
    SaStateContents c = parse_sa_state(ss.str());
    loaded_interval_ms_ = c.interval_ms;
    got = std::move(c.sas);
    neighbours_ = std::move(c.neighbours);
  } catch (const std::exception& e) {
    const std::string aside = from + ".bad";
    const bool moved = std::rename(from.c_str(), aside.c_str()) == 0;
    loaded_from_.clear();
    return from + ": " + e.what() + "; nothing of it used" +
           (moved ? " (moved to " + aside + ")" : "");
  }
  for (auto& r : got) {
    r.sampled_ms = 0;
    r.gone_ms = now_ms;  // kept kKeepMs unless an SA takes it up
    records_[key_of(r)] = std::move(r);
  }
  loaded_ = got.size();
  return "";
}

void SaStateFile::sample(const Model& live, uint64_t now_ms) {
  std::map<Key, bool> seen_now;
  auto take = [&](const SaRecord& rec) {
    const esp::Sa& sa = *rec.sa;
    SaStateRecord fresh;
    fresh.direction = sa.params().direction;
    fresh.spi = sa.spi();
    fresh.fingerprint = sa.key_fingerprint();
    if (fresh.fingerprint == 0) return;
    const Key k = key_of(fresh);
    seen_now[k] = true;
    SaStateRecord& r = records_.try_emplace(k, std::move(fresh)).first->second;
    r.tunnel = rec.tunnel;
    if (r.direction == esp::Direction::kOutbound) {
      const uint64_t seq = sa.next_seq() - 1;
      if (r.sampled_ms != 0 && now_ms > r.sampled_ms && seq > r.seq) {
        r.peak_pps = std::max(r.peak_pps, (seq - r.seq) * 1000 / (now_ms - r.sampled_ms));
      }
      r.seq = seq;
    } else {
      r.seen = sa.replay().snapshot(&r.seq);
    }
    r.sampled_ms = now_ms;
    r.gone_ms = 0;
  };
  for (const auto& [spi, rec] : live.inbound())
    take(rec);
  for (const auto& [spi, rec] : live.outbound())
    take(rec);
  for (auto it = records_.begin(); it != records_.end();) {
    SaStateRecord& r = it->second;
    if (!seen_now.contains(it->first)) {
      if (r.gone_ms == 0) r.gone_ms = now_ms;
      if (now_ms - r.gone_ms > kKeepMs) {
        it = records_.erase(it);
        continue;
      }
    }
    ++it;
  }
}

std::string SaStateFile::text() const {
  SaStateContents c;
  c.interval_ms = effective_ms_;
  for (const auto& [k, r] : records_)
    c.sas.push_back(r);
  c.neighbours = neighbours_;
  return format_sa_state(c);
}

bool SaStateFile::write(std::string* error) {
  int err = write_once(error);
  // A full disk: the records of SAs that went matter least; without them the file may fit.
  if ((err == ENOSPC || err == EDQUOT) &&
      std::erase_if(records_, [](const auto& kv) { return kv.second.gone_ms != 0; }) != 0) {
    err = write_once(error);
  }
  if (err != 0) {
    ++write_errors_;
    return false;
  }
  ++writes_;
  return true;
}

int SaStateFile::write_once(std::string* error) const {
  const std::string body = text();
  const std::string tmp = path_ + ".tmp";
  auto fail = [&](const char* what, int err) {
    if (error) *error = path_ + ": " + what + ": " + std::strerror(err);
    ::unlink(tmp.c_str());
    return err;
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail("cannot create the new file", errno);
  if (const int err = write_all(fd, body); err != 0) {
    ::close(fd);
    return fail("cannot write", err);
  }
  if (::close(fd) != 0) return fail("cannot write", errno);
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) return fail("cannot rename into place", errno);
  return 0;
}

std::optional<esp::SaStart> SaStateFile::resume(const esp::SaParams& p, uint64_t fingerprint) {
  if (fingerprint == 0) return std::nullopt;
  auto it = records_.find({static_cast<uint8_t>(p.direction), p.spi, fingerprint});
  if (it == records_.end()) return std::nullopt;
  SaStateRecord& r = it->second;
  const uint64_t limit = p.esn ? UINT64_MAX : UINT32_MAX;
  esp::SaStart start;
  if (p.direction == esp::Direction::kOutbound) {
    const uint64_t j = jump(r.peak_pps, std::max(effective_ms_, loaded_interval_ms_));
    // Past the end of the sequence space: the SA starts at its last number and stops after it
    // (its hard limit), so that charon rekeys it.
    start.first_seq = r.seq >= limit - 1 || j >= limit - 1 - r.seq ? limit : r.seq + 1 + j;
  } else {
    if (r.seq >= limit) return std::nullopt;
    start.first_seq = r.seq + 1;
    start.replay_seen = r.seen;
  }
  r.sampled_ms = 0;  // the jump is no rate
  ++resumed_;
  return start;
}

}  // namespace espgw::dp
