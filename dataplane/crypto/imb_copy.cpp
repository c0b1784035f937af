#include "dataplane/crypto/imb_copy.h"

#include <dlfcn.h>

#include <cstdio>
#include <map>
#include <mutex>

namespace espgw::crypto {
namespace {

// Loads a copy of the library that `alloc_mb_mgr` was linked from; "" or why not.
std::string load_copy(ImbLib& lib) {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&alloc_mb_mgr), &info) == 0 || info.dli_fname == nullptr) {
    return "the linked library's file was not found";
  }
  void* h = dlmopen(LM_ID_NEWLM, info.dli_fname, RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) return dlerror();
  auto* alloc = reinterpret_cast<IMB_MGR* (*)(uint64_t)>(dlsym(h, "alloc_mb_mgr"));
  auto* init = reinterpret_cast<void (*)(IMB_MGR*, IMB_ARCH*)>(dlsym(h, "init_mb_mgr_auto"));
  auto* release = reinterpret_cast<void (*)(IMB_MGR*)>(dlsym(h, "free_mb_mgr"));
  auto* version = reinterpret_cast<unsigned (*)()>(dlsym(h, "imb_get_version"));
  if (alloc == nullptr || init == nullptr || release == nullptr || version == nullptr ||
      version() != imb_get_version()) {
    dlclose(h);
    return "the copy is not the linked version";
  }
  lib.alloc = alloc;
  lib.init = init;
  lib.free = release;
  lib.own_copy = true;
  return "";
}

}  // namespace

const ImbLib& imb_for_worker(uint32_t worker) {
  static std::mutex lock;
  static std::map<uint32_t, ImbLib> libs;
  std::lock_guard guard(lock);
  if (auto it = libs.find(worker); it != libs.end()) return it->second;
  ImbLib& lib = libs[worker];
  if (imb_get_version() >= IMB_VERSION(1, 4, 0)) return lib;
  if (const std::string why = load_copy(lib); !why.empty()) {
    std::fprintf(stderr,
                 "espgw: worker %u shares intel-ipsec-mb's imb_errno with the other workers "
                 "(a copy of the library for it: %s)\n",
                 worker, why.c_str());
  }
  return lib;
}

}  // namespace espgw::crypto
