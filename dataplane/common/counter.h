#pragma once
// A statistics counter with one writer (a worker) and any number of readers (control thread,
// telemetry). The writer does a relaxed load and store, which compiles to a plain add: no locked
// instruction on the hot path, and readers never see a torn value.

#include <atomic>
#include <cstdint>

namespace espgw {

class Counter {
 public:
  void add(uint64_t n = 1) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void set(uint64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
  uint64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A counter that several workers may bump (rare events such as per-SA drops): one locked add.
class SharedCounter {
 public:
  void add(uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

}  // namespace espgw
