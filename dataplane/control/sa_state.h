#pragma once
// SA state that outlives espgw's process (docs/sa-state.md). Every interval the control thread
// samples each SA's sequence numbers (outbound: the last sent; inbound: the highest received and
// the replay bitmap below it) and writes them, atomically, to a file. When an SA is added again
// without a state of its own (charon's plugin re-adding its SAs after espgw restarted, a static SA
// of the config), resume() finds its record by direction, SPI and key fingerprint: an outbound SA
// continues a safe jump past the last number written, an inbound one with the window written.
// Records of SAs that went are kept kKeepMs, so that a restart finds them.

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "dataplane/control/sa_state_format.h"
#include "dataplane/esp/sa.h"
#include "dataplane/tables/model.h"

namespace espgw::dp {

class SaStateFile final : public SaResume {
 public:
  // The least an outbound SA jumps (docs/sa-state.md): more than it sends in 4 intervals at its
  // peak rate, and never less than this.
  static constexpr uint64_t kMinJump = 65536;
  static constexpr uint64_t kKeepMs = 600'000;

  SaStateFile(std::string path, uint32_t interval_ms)
      : path_(std::move(path)), interval_ms_(interval_ms), effective_ms_(interval_ms) {}
  ~SaStateFile() override;
  SaStateFile(const SaStateFile&) = delete;
  SaStateFile& operator=(const SaStateFile&) = delete;

  const std::string& path() const noexcept { return path_; }
  uint32_t interval_ms() const noexcept { return interval_ms_; }
  // The interval the writes keep in fact: a write that takes long (many SAs) stretches it to 4
  // times its duration. Saved in the file; a restart jumps by the longer of it and its own.
  uint32_t effective_interval_ms() const noexcept { return effective_ms_; }
  void set_effective_interval_ms(uint32_t ms) noexcept {
    effective_ms_ = std::max(ms, interval_ms_);
  }
  static uint64_t jump(uint64_t peak_pps, uint32_t interval_ms) noexcept;

  // Takes PATH.lock (flock, exclusive, held until this object goes; the kernel lets go of it when
  // the process dies, kill -9 included). Two espgws on one file would each overwrite the other's
  // records, and a restart of either would find its own gone: false, and *error names the
  // process that holds it. Any other failure (no folder, a read-only one) is no reason to refuse
  // the start: true, and the writes report it.
  bool lock(std::string* error);
  // The records an earlier run left, from PATH or, where PATH is missing, from `fallback` (the
  // default file of earlier releases; "": none). A missing file is no error. A file that does not
  // parse is moved aside to FILE.bad and nothing of it is used. Returns what went wrong, or "".
  std::string load(uint64_t now_ms, const std::string& fallback = {});
  // The file load() read, or "".
  const std::string& loaded_from() const noexcept { return loaded_from_; }
  // The live SAs' state, into the records; records of SAs gone more than kKeepMs are dropped.
  void sample(const Model& live, uint64_t now_ms);
  // The records, to PATH.tmp and renamed over PATH; on failure the old file stays and *error says
  // why. On a full disk the records of SAs that went are dropped and the write tried again.
  bool write(std::string* error);
  // The file's text, as write() writes it (sa_state_format.h).
  std::string text() const;

  // The learned neighbours: written with the SAs; after load(), those of the earlier run.
  void set_neighbours(std::vector<NeighbourRecord> n) { neighbours_ = std::move(n); }
  const std::vector<NeighbourRecord>& neighbours() const noexcept { return neighbours_; }

  std::optional<esp::SaStart> resume(const esp::SaParams& params, uint64_t fingerprint) override;

  size_t records() const noexcept { return records_.size(); }
  uint64_t loaded() const noexcept { return loaded_; }
  uint64_t resumed() const noexcept { return resumed_; }
  uint64_t writes() const noexcept { return writes_; }
  uint64_t write_errors() const noexcept { return write_errors_; }

 private:
  using Key = std::tuple<uint8_t, uint32_t, uint64_t>;  // direction, SPI, fingerprint
  int write_once(std::string* error) const;             // 0, or the errno
  static Key key_of(const SaStateRecord& r) noexcept {
    return {static_cast<uint8_t>(r.direction), r.spi, r.fingerprint};
  }
  std::string path_;
  std::string loaded_from_;
  int lock_fd_ = -1;
  uint32_t interval_ms_;
  uint32_t effective_ms_;
  uint32_t loaded_interval_ms_ = 0;  // the file's, from the run that wrote it
  std::map<Key, SaStateRecord> records_;
  std::vector<NeighbourRecord> neighbours_;
  uint64_t loaded_ = 0, resumed_ = 0, writes_ = 0, write_errors_ = 0;
};

}  // namespace espgw::dp
