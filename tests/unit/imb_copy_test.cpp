// A copy of intel-ipsec-mb per worker (dataplane/crypto/imb_copy.h): on a library that writes its
// process-wide imb_errno on every call (before 1.4), each worker index gets a copy of its own,
// the same one every time; and a manager from a copy encrypts with keys that the linked library
// prepared (key preparation stays on the control thread's manager) exactly as the linked one does.

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "dataplane/crypto/imb_copy.h"
#include "dataplane/crypto/sa_keys.h"

namespace espgw::crypto {
namespace {

bool needs_copies() {
  return imb_get_version() < IMB_VERSION(1, 4, 0);
}

TEST(ImbCopy, EachWorkerHasItsOwnCopyWhereTheVersionNeedsOne) {
  const ImbLib& w0 = imb_for_worker(0);
  const ImbLib& w1 = imb_for_worker(1);
  EXPECT_EQ(&imb_for_worker(1), &w1) << "made once per worker index";
  if (!needs_copies()) {
    EXPECT_FALSE(w0.own_copy);
    EXPECT_EQ(w0.alloc, &alloc_mb_mgr);
    return;
  }
  ASSERT_TRUE(w0.own_copy);
  ASSERT_TRUE(w1.own_copy);
  // Different copies: their entry points are at different addresses, none the linked one's.
  EXPECT_NE(w0.alloc, w1.alloc);
  EXPECT_NE(w0.alloc, &alloc_mb_mgr);
  EXPECT_NE(w1.init, &init_mb_mgr_auto);
}

// AES-128-GCM of a 64-byte buffer under `mgr` with keys made by prepare_keys(): ciphertext + tag.
std::vector<uint8_t> plaintext() {
  std::vector<uint8_t> p(64);
  for (size_t i = 0; i < p.size(); ++i)
    p[i] = static_cast<uint8_t>(i * 3);
  return p;
}

std::vector<uint8_t> gcm64(IMB_MGR* mgr, const SaKeys& keys) {
  std::vector<uint8_t> out = plaintext();
  out.resize(64 + 16);
  alignas(16) uint8_t iv[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const uint8_t aad[8] = {0, 0, 0x20, 0, 0, 0, 0, 1};
  gcm_context_data ctx;
  IMB_AES128_GCM_ENC(mgr, &keys.imb.gcm, &ctx, out.data(), out.data(), 64, iv, aad, sizeof aad,
                     out.data() + 64, 16);
  return out;
}

TEST(ImbCopy, ACopyEncryptsWithKeysTheLinkedLibraryPrepared) {
  const std::array<uint8_t, 16> key = {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
                                       0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c};
  const std::array<uint8_t, 4> salt = {0xca, 0xfe, 0xba, 0xbe};
  auto keys = prepare_keys(*esp::parse_algorithm("aes128gcm16"), key, salt, {});
  const ImbLib& copy = imb_for_worker(2);
  IMB_MGR* linked_mgr = alloc_mb_mgr(0);
  IMB_MGR* copy_mgr = copy.alloc(0);
  ASSERT_NE(linked_mgr, nullptr);
  ASSERT_NE(copy_mgr, nullptr);
  init_mb_mgr_auto(linked_mgr, nullptr);
  copy.init(copy_mgr, nullptr);
  const auto a = gcm64(linked_mgr, *keys);
  const auto b = gcm64(copy_mgr, *keys);
  EXPECT_EQ(a, b);
  // And it did encrypt: not the plaintext, and a tag was written.
  EXPECT_NE(std::vector<uint8_t>(a.begin(), a.begin() + 64), plaintext());
  EXPECT_NE(std::vector<uint8_t>(a.begin() + 64, a.end()), std::vector<uint8_t>(16, 0));
  free_mb_mgr(linked_mgr);
  copy.free(copy_mgr);
}

}  // namespace
}  // namespace espgw::crypto
