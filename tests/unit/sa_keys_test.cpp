// Key preparation (crypto::prepare_keys, and esp::Sa::make on top of it): wrong key or salt
// lengths are refused with std::invalid_argument, the message names the algorithm and what is
// wrong, and it never carries key material (keys are never printed: common/redact.h).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/hex.h"
#include "dataplane/crypto/sa_keys.h"
#include "dataplane/esp/sa.h"

namespace espgw {
namespace {

using Bytes = std::vector<uint8_t>;
using esp::Algorithm;
using esp::Cipher;
using esp::Integrity;

// Key bytes that would be easy to spot in a message, in any common spelling.
Bytes marked(size_t n, uint8_t first) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i)
    b[i] = static_cast<uint8_t>(first + 17 * i);
  return b;
}

void expect_no_key_material(const std::string& msg, const Bytes& secret) {
  if (secret.size() < 4) return;
  const Bytes head(secret.begin(), secret.begin() + 4);
  std::string lower = to_hex(head);
  std::string upper = lower;
  for (auto& c : upper)
    c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  const std::string colon =
      lower.substr(0, 2) + ":" + lower.substr(2, 2) + ":" + lower.substr(4, 2);
  const std::string raw(head.begin(), head.end());
  EXPECT_EQ(msg.find(lower), std::string::npos) << msg;
  EXPECT_EQ(msg.find(upper), std::string::npos) << msg;
  EXPECT_EQ(msg.find(colon), std::string::npos) << msg;
  EXPECT_EQ(msg.find(raw), std::string::npos) << msg;
}

// Runs prepare_keys and returns the message of the std::invalid_argument it must throw.
std::string refusal(const Algorithm& alg, const Bytes& key, const Bytes& salt, const Bytes& auth) {
  try {
    crypto::prepare_keys(alg, key, salt, auth);
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(alg.name()), std::string::npos) << "names the algorithm: " << msg;
    expect_no_key_material(msg, key);
    expect_no_key_material(msg, salt);
    expect_no_key_material(msg, auth);
    return msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << alg.name() << ": wrong exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << alg.name() << ": accepted";
  return {};
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

class KeyPreparation : public testing::TestWithParam<Algorithm> {
 protected:
  const Algorithm& alg() const { return GetParam(); }
  Bytes key() const { return marked(alg().key_bytes, 0xc5); }
  Bytes salt() const { return marked(alg().salt_bytes(), 0x5a); }
  Bytes auth() const { return marked(alg().auth_key_bytes(), 0xa7); }
};

TEST_P(KeyPreparation, AcceptsTheRightLengths) {
  auto k = crypto::prepare_keys(alg(), key(), salt(), auth());
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->alg, alg());
  EXPECT_EQ(Bytes(k->cipher_key, k->cipher_key + alg().key_bytes), key());
  EXPECT_EQ(Bytes(k->salt, k->salt + alg().salt_bytes()), salt());
  EXPECT_EQ(k->auth_key_len, alg().auth_key_bytes());
}

TEST_P(KeyPreparation, RefusesWrongEncryptionKeyLengths) {
  // 24 bytes is AES-192, which espgw does not offer.
  for (size_t len : {size_t{0}, size_t{1}, size_t{15}, size_t{17}, size_t{24}, size_t{31},
                     size_t{33}, size_t{64}}) {
    if (len == alg().key_bytes) continue;
    SCOPED_TRACE(len);
    const std::string msg = refusal(alg(), marked(len, 0xc5), salt(), auth());
    EXPECT_TRUE(contains(msg, "encryption key")) << msg;
    EXPECT_TRUE(contains(msg, "must be " + std::to_string(alg().key_bytes) + " bytes")) << msg;
    EXPECT_TRUE(contains(msg, "got " + std::to_string(len))) << msg;
  }
}

TEST_P(KeyPreparation, RefusesWrongSaltLengths) {
  for (size_t len : {size_t{0}, size_t{1}, size_t{3}, size_t{4}, size_t{5}, size_t{8}}) {
    if (len == alg().salt_bytes()) continue;
    SCOPED_TRACE(len);
    const std::string msg = refusal(alg(), key(), marked(len, 0x5a), auth());
    EXPECT_TRUE(contains(msg, "salt")) << msg;
    EXPECT_TRUE(contains(msg, "must be " + std::to_string(alg().salt_bytes()) + " bytes")) << msg;
    EXPECT_TRUE(contains(msg, "got " + std::to_string(len))) << msg;
  }
}

TEST_P(KeyPreparation, IntegrityKeyOnlyWithoutAead) {
  if (alg().aead()) {
    const std::string msg = refusal(alg(), key(), salt(), marked(32, 0xa7));
    EXPECT_TRUE(contains(msg, "AEAD takes no integrity key")) << msg;
  } else {
    const std::string msg = refusal(alg(), key(), salt(), {});
    EXPECT_TRUE(contains(msg, "integrity key missing")) << msg;
  }
}

INSTANTIATE_TEST_SUITE_P(All, KeyPreparation, testing::ValuesIn(esp::all_algorithms()),
                         [](const testing::TestParamInfo<Algorithm>& p) {
                           std::string n = p.param.name();
                           for (auto& c : n) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

// HMAC keys longer than the hash block are hashed first (RFC 2104 2): the prepared key is the
// digest, never a truncated copy of the long key.
TEST(KeyPreparationHmac, LongKeysAreHashed) {
  const Algorithm sha256{Cipher::kAesCbc, 16, Integrity::kHmacSha256_128};
  const Algorithm sha512{Cipher::kAesCbc, 32, Integrity::kHmacSha512_256};
  const Bytes long_key(131, 0xaa);
  auto k256 = crypto::prepare_keys(sha256, Bytes(16, 1), {}, long_key);
  EXPECT_EQ(k256->auth_key_len, 32u);
  EXPECT_NE(Bytes(k256->imb.cbc.auth_key, k256->imb.cbc.auth_key + 32), Bytes(32, 0xaa));
  auto k512 = crypto::prepare_keys(sha512, Bytes(32, 1), {}, long_key);
  EXPECT_EQ(k512->auth_key_len, 64u);
  EXPECT_NE(Bytes(k512->imb.cbc.auth_key, k512->imb.cbc.auth_key + 64), Bytes(64, 0xaa));
  // Exactly one block is used as it is.
  auto block = crypto::prepare_keys(sha512, Bytes(32, 1), {}, Bytes(128, 0xaa));
  EXPECT_EQ(block->auth_key_len, 128u);
}

// Sa::make passes the refusal on, prefixed with the SPI, still without key bytes.
TEST(SaKeyErrors, SaMakeNamesTheSpiAndTheProblem) {
  esp::SaParams p;
  p.spi = 0x1234abcd;
  p.algorithm = {Cipher::kAesGcm16, 32, Integrity::kNone};
  p.enc_key = marked(16, 0xc5);  // an AES-128 key for AES-256
  p.salt = marked(4, 0x5a);
  p.local = *IpAddress::parse("198.51.100.1");
  p.remote = *IpAddress::parse("203.0.113.2");
  const Bytes key = p.enc_key;
  try {
    esp::Sa::make(p, 1, 0);
    ADD_FAILURE() << "accepted";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(contains(msg, "SA spi 0x1234abcd")) << msg;
    EXPECT_TRUE(contains(msg, "aes256gcm16: encryption key must be 32 bytes, got 16")) << msg;
    expect_no_key_material(msg, key);
    expect_no_key_material(msg, p.salt);
  }

  p.enc_key = marked(32, 0xc5);
  p.salt = marked(3, 0x5a);
  try {
    esp::Sa::make(p, 1, 0);
    ADD_FAILURE() << "accepted";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(contains(msg, "SA spi 0x1234abcd")) << msg;
    EXPECT_TRUE(contains(msg, "salt must be 4 bytes, got 3")) << msg;
    expect_no_key_material(msg, p.enc_key);
  }
}

}  // namespace
}  // namespace espgw
