#pragma once
// An immutable open-addressing hash map for the read-mostly tables (inbound SAs by SPI,
// neighbours by address). Built once on the control thread, then only read by workers: lookups
// take no lock, allocate nothing and touch one or two cache lines.

#include <bit>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace espgw {

template <class Key, class Value, class Hash>
class FlatMap {
 public:
  FlatMap() = default;

  // Duplicate keys: the last one wins.
  explicit FlatMap(const std::vector<std::pair<Key, Value>>& items) {
    const size_t cap = std::bit_ceil(std::max<size_t>(16, items.size() * 2));
    slots_.resize(cap);
    mask_ = cap - 1;
    for (const auto& [k, v] : items) {
      size_t i = Hash{}(k)&mask_;
      while (slots_[i].used && !(slots_[i].key == k))
        i = (i + 1) & mask_;
      if (!slots_[i].used) ++size_;
      slots_[i] = Slot{k, v, true};
    }
  }

  const Value* find(const Key& k) const noexcept {
    if (slots_.empty()) return nullptr;
    for (size_t i = Hash{}(k)&mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (!s.used) return nullptr;
      if (s.key == k) return &s.value;
    }
  }

  size_t size() const noexcept { return size_; }

  template <class F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_) {
      if (s.used) f(s.key, s.value);
    }
  }

 private:
  struct Slot {
    Key key{};
    Value value{};
    bool used = false;
  };
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// Multiplicative hashing: SPIs and addresses are not adversarial keys for a table the control
// plane fills, and this spreads sequential SPIs well.
struct U32Hash {
  size_t operator()(uint32_t k) const noexcept {
    return static_cast<size_t>((uint64_t{k} * 0x9E3779B97F4A7C15ull) >> 32);
  }
};

}  // namespace espgw
