// Key memory (dataplane/crypto/key_memory.h): an SA's keys (SaKeys) live in pages marked
// MADV_DONTDUMP, as /proc/self/smaps shows ("dd"), unlike the heap; a freed SaKeys' slot is all
// zeros at once; slots are reused, so the pages mapped stay bounded by the most SAs held at once.
// tests/unit/key_core_test.py checks the same in a real core file.

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "dataplane/crypto/key_memory.h"
#include "dataplane/crypto/sa_keys.h"

namespace espgw::crypto {
namespace {

// The VmFlags of the mapping of /proc/self/smaps that holds p ("" when none does).
std::string vm_flags(const void* p) {
  const auto at = reinterpret_cast<uintptr_t>(p);
  std::ifstream smaps("/proc/self/smaps");
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> lo >> dash >> hi && dash == '-' &&
        line.find(' ') != std::string::npos && line.find(':') > line.find('-')) {
      inside = lo <= at && at < hi;
      continue;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0) return line.substr(8) + " ";
  }
  return "";
}

std::vector<uint8_t> bytes(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = static_cast<uint8_t>(seed + 7 * i);
  return v;
}

std::unique_ptr<SaKeys> gcm_keys() {
  const auto alg = esp::parse_algorithm("aes256gcm16");
  const auto key = bytes(32, 1), salt = bytes(4, 2);
  return prepare_keys(*alg, key, salt, {});
}

std::unique_ptr<SaKeys> cbc_keys() {
  const auto alg = esp::parse_algorithm("aes256-sha256");
  const auto key = bytes(32, 3), auth = bytes(32, 4);
  return prepare_keys(*alg, key, {}, auth);
}

TEST(KeyMemory, KeysAreNotDumped) {
  std::vector<std::unique_ptr<SaKeys>> both;
  both.push_back(gcm_keys());
  both.push_back(cbc_keys());
  for (const auto& keys : both) {
    const std::string flags = vm_flags(keys.get());
    ASSERT_FALSE(flags.empty()) << "no mapping holds the keys";
    EXPECT_NE(flags.find(" dd "), std::string::npos) << flags;
  }
  // The check can fail: the heap is dumped.
  auto plain = std::make_unique<std::array<uint8_t, 4096>>();
  const std::string heap = vm_flags(plain.get());
  ASSERT_FALSE(heap.empty());
  EXPECT_EQ(heap.find(" dd "), std::string::npos) << heap;
}

TEST(KeyMemory, FreedKeysAreWiped) {
  auto keys = gcm_keys();
  const void* at = keys.get();
  ASSERT_FALSE(key_memory_is_zero(at, sizeof(SaKeys)));
  keys.reset();
  EXPECT_TRUE(key_memory_is_zero(at, sizeof(SaKeys)));
}

TEST(KeyMemory, SlotsAreReused) {
  std::vector<std::unique_ptr<SaKeys>> held;
  for (int i = 0; i < 600; ++i)
    held.push_back(i % 2 ? gcm_keys() : cbc_keys());
  const KeyMemoryStats peak = key_memory_stats();
  EXPECT_GE(peak.slots_in_use, 600u);
  EXPECT_GE(peak.mapped_bytes, 600 * sizeof(SaKeys));
  held.clear();
  EXPECT_EQ(key_memory_stats().slots_in_use, peak.slots_in_use - 600);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 600; ++i)
      held.push_back(cbc_keys());
    held.clear();
  }
  EXPECT_EQ(key_memory_stats().mapped_bytes, peak.mapped_bytes);
}

TEST(KeyMemory, Alignment) {
  for (size_t align : {8u, 64u, 4096u}) {
    void* p = key_alloc(100, align);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << align;
    key_free(p, 100, align);
  }
  EXPECT_THROW(key_alloc(64, 3), std::bad_alloc);
}

}  // namespace
}  // namespace espgw::crypto
