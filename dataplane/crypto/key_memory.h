#pragma once
// Memory for key material (SaKeys, sa_keys.h): 2 MiB chunks (a huge page where transparent huge
// pages allow) mapped for keys alone and marked MADV_DONTDUMP, so that a core dump of espgw (or
// gcore) holds no SA key, MADV_WIPEONFORK, so that a forked child sees zeros, and locked where the
// limit allows (never swapped). A freed slot is wiped at once and kept for the next key of its
// size: the pages are never given back, so the memory is bounded by the most SAs held at once.
// Install and delete only (the control thread): a mutex, never the hot path. docs/architecture.md,
// "Key memory".

#include <cstddef>

namespace espgw::crypto {

// `size` bytes aligned to `align` (a power of two, at most 4096) in key pages. Throws
// std::bad_alloc when no page can be mapped.
void* key_alloc(std::size_t size, std::size_t align);
// Wipes the `size` bytes at p (from key_alloc with this size and align) and keeps the slot.
void key_free(void* p, std::size_t size, std::size_t align) noexcept;

struct KeyMemoryStats {
  std::size_t mapped_bytes = 0;  // key pages mapped, all sizes
  std::size_t slots_in_use = 0;
  std::size_t slots_free = 0;
};
KeyMemoryStats key_memory_stats() noexcept;

// For tests: whether the `size` bytes at p, a slot of the key pages, are all zero. Reads the
// pages through volatile loads, so that it may look at a freed slot.
bool key_memory_is_zero(const void* p, std::size_t size) noexcept;

}  // namespace espgw::crypto
