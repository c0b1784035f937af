#pragma once
// A copy of intel-ipsec-mb per worker, where the library version needs one.
//
// intel-ipsec-mb 1.3 (Debian 12's) keeps a process-wide error status, imb_errno, and every AES-GCM
// call and every job call stores 0 to it first, whatever it holds (docs/multicore.md). With two
// workers that one cache line moves between their cores on every packet: +30 to +45 cycles a
// 64-byte packet on this project's machines (bench/imb_shared_line). A copy of the library loaded
// with dlmopen() into a link namespace of its own has its own imb_errno, so each worker's manager
// comes from such a copy: everything a manager does goes through its own function pointers (the
// IMB_* macros), so into the copy that made it. Key preparation (sa_keys.cpp) stays with the
// linked library; its output is plain data that every copy of the same version reads alike.
// intel-ipsec-mb 1.4 and later store the status only when it changes; they are used as linked.

#include <intel-ipsec-mb.h>

#include <cstdint>
#include <string>

namespace espgw::crypto {

struct ImbLib {
  IMB_MGR* (*alloc)(uint64_t) = alloc_mb_mgr;
  void (*init)(IMB_MGR*, IMB_ARCH*) = init_mb_mgr_auto;
  void (*free)(IMB_MGR*) = free_mb_mgr;
  bool own_copy = false;  // loaded for this worker (else the linked library)
};

// The library for worker `worker`: its own copy when the linked version needs one and glibc can
// load one (it allows 15 link namespaces besides the first, and room in static TLS for about 11
// copies of libc by default: glibc.rtld.nns raises that), else the linked library, with one line
// on stderr saying why. Made once per worker index and kept for the life of the process (a
// restarted worker gets its copy back). Thread-safe.
const ImbLib& imb_for_worker(uint32_t worker);

}  // namespace espgw::crypto
