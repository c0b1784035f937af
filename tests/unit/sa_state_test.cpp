// SA state in and out (docs/sa-state.md): the replay window's snapshot and restore, an SA started
// from a given state, and the state file: sampled from a Model, written, read by a new process's
// SaStateFile and taken up by the same SA added again (outbound after a jump, inbound with its
// window); never by an SA with the same SPI and other keys; a file that does not parse, a write
// that fails.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <set>

#include "../support/sa_test_access.h"
#include "dataplane/control/sa_state.h"
#include "dataplane/esp/replay_window.h"
#include "dataplane/tables/model.h"

namespace espgw::dp {
namespace {

using esp::Direction;

// Every sequence number around the window checks the same in both.
void expect_same_checks(const esp::ReplayWindow& a, const esp::ReplayWindow& b, uint64_t top) {
  for (uint64_t s = top > 1200 ? top - 1200 : 1; s <= top + 3; ++s) {
    const auto lo = static_cast<uint32_t>(s);
    ASSERT_EQ(a.check(lo).reason, b.check(lo).reason) << "seq " << s;
  }
}

TEST(ReplayState, SnapshotAndRestoreKeepEveryDecision) {
  std::mt19937_64 rng(7);
  for (bool esn : {false, true}) {
    for (uint32_t size : {64u, 1024u}) {
      esp::ReplayWindow w(size, esn);
      const uint64_t base = esn ? (uint64_t{5} << 32) - 300 : 100000;
      w.reset(base);
      for (int i = 0; i < 3000; ++i)
        w.update(base + 1 + rng() % 2000);
      uint64_t top = 0;
      const std::vector<uint8_t> seen = w.snapshot(&top);
      EXPECT_EQ(top, w.top());
      EXPECT_LE(seen.size(), size / 8);
      // Bit i stands for top - i, set exactly where check() calls it a duplicate.
      for (uint64_t i = 0; i < size; ++i) {
        const bool bit = i / 8 < seen.size() && ((seen[i / 8] >> (i % 8)) & 1);
        ASSERT_EQ(bit,
                  w.check(static_cast<uint32_t>(top - i)).reason == DropReason::kReplayDuplicate)
            << "i " << i;
      }
      esp::ReplayWindow back(size, esn);
      back.restore(top, seen);
      EXPECT_EQ(back.top(), top);
      expect_same_checks(w, back, top);
      uint64_t top2 = 0;
      EXPECT_EQ(back.snapshot(&top2), seen);
    }
  }
}

TEST(ReplayState, ASnapshotNearSequenceNumberOneStopsThere) {
  esp::ReplayWindow w(1024, false);
  for (uint64_t s : {1, 2, 5, 64, 65, 70})
    w.update(s);
  uint64_t top = 0;
  // 70-0, 70-5 (65), 70-6 (64), 70-65 (5), 70-68 (2), 70-69 (1)
  std::vector<uint8_t> want(9, 0);
  for (int i : {0, 5, 6, 65, 68, 69})
    want[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
  EXPECT_EQ(w.snapshot(&top), want);
  EXPECT_EQ(top, 70u);
}

TEST(ReplayState, RestoreIgnoresBitsBelowOneAndBeyondTheWindow) {
  esp::ReplayWindow w(64, false);
  w.restore(3, std::vector<uint8_t>(64, 0xff));  // bits for 3, 2, 1, 0, -1, ... and far beyond
  EXPECT_EQ(w.check(1).reason, DropReason::kReplayDuplicate);
  EXPECT_EQ(w.check(3).reason, DropReason::kReplayDuplicate);
  EXPECT_EQ(w.check(4).reason, DropReason::kNone);
  uint64_t top = 0;
  EXPECT_EQ(w.snapshot(&top), std::vector<uint8_t>{0x07});
}

config::Tunnel tunnel() {
  config::Tunnel t;
  t.name = "t";
  t.local = *IpAddress::parse("198.51.100.1");
  t.remote = *IpAddress::parse("203.0.113.7");
  return t;
}

esp::SaParams params(uint32_t spi, Direction dir, uint8_t key = 0x11) {
  esp::SaParams p;
  p.spi = spi;
  p.direction = dir;
  p.algorithm = *esp::parse_algorithm("aes128gcm16");
  p.enc_key.assign(16, key);
  p.salt.assign(4, 0x22);
  p.local = *IpAddress::parse("198.51.100.1");
  p.remote = *IpAddress::parse("203.0.113.7");
  p.replay_window = 128;
  return p;
}

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/sa_state_test.XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf " + path).c_str()); }
  std::string path;
};

std::unique_ptr<Model> model(SaResume* resume) {
  auto m = std::make_unique<Model>(std::vector<PortDesc>{}, 1);
  m->set_resume(resume);
  m->add_tunnel(tunnel(), false);
  return m;
}

// A folder of its own per test, the state file's path in it, and a Model over a file.
class SaStateFileTest : public ::testing::Test {
 protected:
  // A Model whose one outbound SA 0x1000 sends next `next_seq`, sampled at `now` into `f`.
  std::unique_ptr<Model> sampled(SaStateFile& f, uint64_t next_seq, uint64_t now) {
    auto m = model(&f);
    m->add_sa("t", params(0x1000, Direction::kOutbound), 1, false);
    esp::SaTestAccess::set_next_seq(*m->outbound().at(0x1000).sa, next_seq);
    f.sample(*m, now);
    return m;
  }
  TempDir dir;
  const std::string path = dir.path + "/sa-state.json";
};

TEST(SaStart, GivenStateStartsTheSa) {
  esp::SaParams out = params(0x1000, Direction::kOutbound);
  out.first_seq = 4000;
  auto o = esp::Sa::make(out, 1, 1);
  EXPECT_EQ(o->next_seq(), 4000u);
  esp::SaParams in = params(0x2000, Direction::kInbound);
  in.first_seq = 501;
  in.replay_seen = {0x05};  // 500 and 498
  auto i = esp::Sa::make(in, 1, 1);
  EXPECT_EQ(i->replay().top(), 500u);
  EXPECT_EQ(i->replay().check(498).reason, DropReason::kReplayDuplicate);
  EXPECT_EQ(i->replay().check(499).reason, DropReason::kNone);
  // Without ESN the next number must fit 32 bits.
  out.first_seq = uint64_t{1} << 32;
  EXPECT_THROW(esp::Sa::make(out, 1, 1), std::invalid_argument);
}

TEST_F(SaStateFileTest, ARestartTakesUpEachSaWithItsKeysOnly) {
  {
    SaStateFile before(path, 100);
    auto m = model(&before);
    m->add_sa("t", params(0x1000, Direction::kOutbound), 1, false);
    m->add_sa("t", params(0x2000, Direction::kInbound), 1, false);
    EXPECT_EQ(m->resumed(), 0u) << "nothing to take up yet";
    esp::Sa& out = *m->outbound().at(0x1000).sa;
    esp::Sa& in = *m->inbound().at(0x2000).sa;
    before.sample(*m, 1000);
    // 200,000 packets in 100 ms: 2 Mpps, whose 4 intervals are 800,000 numbers.
    esp::SaTestAccess::set_next_seq(out, 200'001);
    for (uint64_t s : {9000u, 8990u, 8900u})
      esp::SaTestAccess::replay(in).update(s);
    before.sample(*m, 1100);
    std::string error;
    ASSERT_TRUE(before.write(&error)) << error;
    EXPECT_EQ(before.writes(), 1u);
  }
  SaStateFile after(path, 100);
  EXPECT_EQ(after.load(5), "");
  EXPECT_EQ(after.loaded(), 2u);
  auto m = model(&after);
  m->add_sa("t", params(0x1000, Direction::kOutbound), 1, false);
  m->add_sa("t", params(0x2000, Direction::kInbound), 1, false);
  EXPECT_EQ(m->resumed(), 2u);
  EXPECT_EQ(m->outbound().at(0x1000).sa->next_seq(), 200'001u + 800'000u);
  const esp::ReplayWindow& w = m->inbound().at(0x2000).sa->replay();
  EXPECT_EQ(w.top(), 9000u);
  EXPECT_EQ(w.check(8990).reason, DropReason::kReplayDuplicate);
  EXPECT_EQ(w.check(8991).reason, DropReason::kNone);
  EXPECT_EQ(w.check(8800).reason, DropReason::kReplayOld);

  // The same SPIs with other keys (a new CHILD_SA that drew them) start as new SAs.
  auto other = model(&after);
  other->add_sa("t", params(0x1000, Direction::kOutbound, 0x33), 1, false);
  other->add_sa("t", params(0x2000, Direction::kInbound, 0x33), 1, false);
  EXPECT_EQ(other->resumed(), 0u);
  EXPECT_EQ(other->outbound().at(0x1000).sa->next_seq(), 1u);
  EXPECT_EQ(other->inbound().at(0x2000).sa->replay().top(), 0u);
  // A state given with the SA wins over the file's.
  esp::SaParams given = params(0x1000, Direction::kOutbound);
  given.first_seq = 77;
  auto third = model(&after);
  third->add_sa("t", given, 1, false);
  EXPECT_EQ(third->outbound().at(0x1000).sa->next_seq(), 77u);
  EXPECT_EQ(third->resumed(), 0u);
}

TEST_F(SaStateFileTest, AJumpPastTheEndStopsTheSaForARekey) {
  SaStateFile first(path, 100);
  auto m = sampled(first, UINT32_MAX - 10, 1);
  std::string error;
  ASSERT_TRUE(first.write(&error)) << error;
  SaStateFile again(path, 100);
  EXPECT_EQ(again.load(1), "");
  auto n = model(&again);
  n->add_sa("t", params(0x1000, Direction::kOutbound), 1, false);
  EXPECT_EQ(n->outbound().at(0x1000).sa->next_seq(), UINT32_MAX);
}

TEST_F(SaStateFileTest, AFileThatDoesNotParseIsSetAsideAndNotUsed) {
  for (const char* text :
       {"{\"espgw_sa_state\": 1, \"sas\": [{\"direction\": \"out\"}]}", "not json",
        "{\"espgw_sa_state\": 9, \"sas\": []}",
        "{\"espgw_sa_state\": 1, \"sas\": [{\"direction\": \"in\", \"spi\": "
        "\"0x1000\", \"key_id\": \"01\", \"seq\": 5, \"replay_bitmap\": \"zz\"}]}"}) {
    std::ofstream(path) << text;
    SaStateFile f(path, 100);
    const std::string error = f.load(1);
    EXPECT_NE(error.find(path + ": "), std::string::npos) << error;
    EXPECT_NE(error.find("nothing of it used"), std::string::npos) << error;
    EXPECT_EQ(f.loaded(), 0u);
    struct stat st {};
    EXPECT_EQ(::stat((path + ".bad").c_str(), &st), 0) << "moved aside: " << text;
    EXPECT_NE(::stat(path.c_str(), &st), 0);
  }
  SaStateFile none(dir.path + "/absent.json", 100);
  EXPECT_EQ(none.load(1), "") << "no file is a first start";
}

TEST_F(SaStateFileTest, AFailedWriteKeepsTheLastFileAndSaysWhy) {
  SaStateFile f(path, 100);
  auto m = sampled(f, 1, 1);
  std::string error;
  ASSERT_TRUE(f.write(&error));
  const std::string good = f.text();
  // The new file cannot be made: its name is taken by a directory.
  ASSERT_EQ(::mkdir((path + ".tmp").c_str(), 0700), 0);
  esp::SaTestAccess::set_next_seq(*m->outbound().at(0x1000).sa, 5000);
  f.sample(*m, 2);
  EXPECT_FALSE(f.write(&error));
  EXPECT_EQ(f.write_errors(), 1u);
  EXPECT_EQ(error.rfind(path + ": ", 0), 0u) << error;
  std::ifstream in(path);
  const std::string kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(kept, good);
}

TEST_F(SaStateFileTest, RecordsOfSasThatWentAreKeptAWhileThenDropped) {
  SaStateFile f(path, 100);
  auto m = sampled(f, 1, 1000);
  m->remove_sa(Direction::kOutbound, 0x1000);
  f.sample(*m, 2000);
  EXPECT_EQ(f.records(), 1u);
  f.sample(*m, 2000 + SaStateFile::kKeepMs + 1);
  EXPECT_EQ(f.records(), 0u);
}

TEST_F(SaStateFileTest, OneHolderOfAFileAtATime) {
  std::string error;
  {
    SaStateFile first(path, 100);
    ASSERT_TRUE(first.lock(&error)) << error;
    SaStateFile second(path, 100);
    EXPECT_FALSE(second.lock(&error));
    EXPECT_EQ(error, path + " is the SA state file of another running espgw (pid " +
                         std::to_string(getpid()) + " holds " + path + ".lock)");
  }
  SaStateFile after(path, 100);  // the first went: its lock with it
  EXPECT_TRUE(after.lock(&error));
  SaStateFile nowhere(dir.path + "/missing/sa-state.json", 100);
  EXPECT_TRUE(nowhere.lock(&error)) << "no folder: the writes say so, the start goes on";
}

TEST_F(SaStateFileTest, TheEarlierDefaultIsReadWhereTheFileIsMissing) {
  const std::string legacy = dir.path + "/legacy.json";
  {
    SaStateFile before(legacy, 100);
    auto m = sampled(before, 5000, 1000);
    std::string error;
    ASSERT_TRUE(before.write(&error)) << error;
  }
  SaStateFile f(path, 100);
  EXPECT_EQ(f.load(2000, legacy), "");
  EXPECT_EQ(f.loaded(), 1u);
  EXPECT_EQ(f.loaded_from(), legacy);
  { std::ofstream(path) << "not json"; }
  SaStateFile g(path, 100);
  EXPECT_NE(g.load(2000, legacy), "") << "the file is there: the fallback is not read";
  EXPECT_EQ(g.loaded(), 0u);
}

}  // namespace
}  // namespace espgw::dp
