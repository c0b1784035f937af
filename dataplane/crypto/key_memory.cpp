#include "dataplane/crypto/key_memory.h"

#include <openssl/crypto.h>
#include <sys/mman.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <new>
#include <vector>

namespace espgw::crypto {
namespace {

// Mapped at a time, for slots of one size: one huge page, aligned to it and advised so
// (MADV_HUGEPAGE), so that the keys of thousands of SAs, read per packet, take few TLB entries.
constexpr std::size_t kChunkBytes = 2 * 1024 * 1024;

struct Arena {
  std::mutex lock;
  std::map<std::size_t, std::vector<void*>> free;  // slot size -> free slots
  std::size_t mapped = 0;
  std::size_t in_use = 0;
};

Arena& arena() {
  static Arena* a = new Arena;  // never destroyed: keys may be freed during exit
  return *a;
}

std::size_t slot_size(std::size_t size, std::size_t align) {
  return (size + align - 1) & ~(align - 1);
}

// A new chunk of key pages cut into slots of `slot` bytes (caller holds the lock).
void map_chunk(Arena& a, std::size_t slot) {
  const std::size_t bytes = (slot + kChunkBytes - 1) & ~(kChunkBytes - 1);
  // Twice as much, then the unaligned ends unmapped: a chunk on a huge page boundary.
  void* raw = mmap(nullptr, bytes + kChunkBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kChunkBytes - 1) & ~uintptr_t{kChunkBytes - 1};
  if (aligned > start) munmap(raw, aligned - start);
  if (const uintptr_t end = start + bytes + kChunkBytes; end > aligned + bytes)
    munmap(reinterpret_cast<void*>(aligned + bytes), end - aligned - bytes);
  void* m = reinterpret_cast<void*>(aligned);
  // Not in core dumps: required, or the pages would be no better than the heap.
  if (madvise(m, bytes, MADV_DONTDUMP) != 0) {
    munmap(m, bytes);
    throw std::bad_alloc();
  }
  (void)madvise(m, bytes, MADV_HUGEPAGE);  // where transparent huge pages are on (or madvise)
#ifdef MADV_WIPEONFORK
  (void)madvise(m, bytes, MADV_WIPEONFORK);  // Linux 4.14; older kernels: as without it
#endif
  (void)mlock(m, bytes);  // where RLIMIT_MEMLOCK allows
  a.mapped += bytes;
  auto& list = a.free[slot];
  for (std::size_t off = 0; off + slot <= bytes; off += slot)
    list.push_back(static_cast<char*>(m) + off);
}

}  // namespace

void* key_alloc(std::size_t size, std::size_t align) {
  if (align == 0 || (align & (align - 1)) != 0 || align > 4096) throw std::bad_alloc();
  const std::size_t slot = slot_size(size == 0 ? 1 : size, align);
  Arena& a = arena();
  std::lock_guard guard(a.lock);
  auto& list = a.free[slot];
  if (list.empty()) map_chunk(a, slot);
  void* p = list.back();
  list.pop_back();
  ++a.in_use;
  return p;
}

void key_free(void* p, std::size_t size, std::size_t align) noexcept {
  if (!p) return;
  const std::size_t slot = slot_size(size == 0 ? 1 : size, align);
  OPENSSL_cleanse(p, slot);
  Arena& a = arena();
  std::lock_guard guard(a.lock);
  try {
    a.free[slot].push_back(p);
  } catch (...) {
    // No room to remember the slot: it stays wiped and unused (never reached in practice).
  }
  --a.in_use;
}

KeyMemoryStats key_memory_stats() noexcept {
  Arena& a = arena();
  std::lock_guard guard(a.lock);
  std::size_t free = 0;
  for (const auto& [slot, list] : a.free)
    free += list.size();
  return {a.mapped, a.in_use, free};
}

bool key_memory_is_zero(const void* p, std::size_t size) noexcept {
  const volatile uint8_t* b = static_cast<const volatile uint8_t*>(p);
  uint8_t any = 0;
  for (std::size_t i = 0; i < size; ++i)
    any |= b[i];
  return any == 0;
}

}  // namespace espgw::crypto
