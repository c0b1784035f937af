// For tests/unit/key_core_test.py: prepares an SA's keys (aes256gcm16, a fixed test key), prints
// 64 bytes of the AES key schedule intel-ipsec-mb expanded from it (rounds 10 to 13: only SaKeys
// holds them) in hex, wipes its own copy of the key, prints "ready" and waits for its stdin to
// close. With --heap-copy it also keeps a copy of the whole SaKeys on the heap: what the core must
// then show, so that the search for the schedule is known to work.

#include <openssl/crypto.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/crypto/sa_keys.h"

int main(int argc, char** argv) {
  using namespace espgw;
  const bool heap_copy = argc > 1 && std::string(argv[1]) == "--heap-copy";
  std::vector<uint8_t> key(32), salt(4, 0x5a);
  for (size_t i = 0; i < key.size(); ++i)
    key[i] = static_cast<uint8_t>(0xc0 + 3 * i);
  const auto alg = esp::parse_algorithm("aes256gcm16");
  auto keys = crypto::prepare_keys(*alg, key, salt, {});
  OPENSSL_cleanse(key.data(), key.size());
  std::unique_ptr<uint8_t[]> copy;
  if (heap_copy) {
    copy.reset(new uint8_t[sizeof(crypto::SaKeys)]);
    std::memcpy(copy.get(), keys.get(), sizeof(crypto::SaKeys));
  }
  const uint8_t* schedule = keys->imb.gcm.expanded_keys + 16 * 10;
  for (int i = 0; i < 64; ++i)
    std::printf("%02x", schedule[i]);
  std::printf("\nready\n");
  std::fflush(stdout);
  while (std::fgetc(stdin) != EOF) {
  }
  // Still used after the dump: the copy and the keys stay alive until here.
  return copy && copy[0] == 0xff && keys->alg.key_bytes == 0 ? 1 : 0;
}
