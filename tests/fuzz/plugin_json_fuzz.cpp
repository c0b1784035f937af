// libFuzzer target: the kernel-espgw plugin's JSON reader (ike-bridge/plugin/espgw_json.h, C). It
// runs inside charon and reads espgw's answers and events: a crash there takes IKE down. Every
// input parses or is refused without a crash or a leak; what parses answers every getter, and a
// member it reports as a string, number or boolean is one the object has.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>

extern "C" {
#include "ike-bridge/plugin/espgw_json.h"
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  espgw_json_t* obj = espgw_json_parse(reinterpret_cast<const char*>(data), size);
  if (!obj) return 0;
  for (const char* key : {"ok", "error", "spi", "event", "tunnel", "bytes", "hard", "if_id", ""}) {
    const bool has = espgw_json_has(obj, key);
    char* s = espgw_json_get_string(obj, key);
    uint64_t n = 0;
    bool b = false;
    const bool is_number = espgw_json_get_uint(obj, key, &n);
    const bool is_bool = espgw_json_get_bool(obj, key, &b);
    if ((s || is_number || is_bool) && !has) std::abort();
    if ((s != nullptr) + is_number + is_bool > 1) std::abort();  // one type per member
    std::free(s);
  }
  espgw_json_free(obj);
  return 0;
}
