// Known-answer tests of the ESP crypto: published vectors pushed through the CryptoOp interface of
// both backends (intel-ipsec-mb and OpenSSL). Each vector names the document and test case it comes
// from. tests/unit/crypto_kat_crosscheck.py reads the vectors out of this file and recomputes every
// one with an independent implementation (Python `cryptography`), so a transcription slip here
// fails that check too. Over 800 lines: about 680 of them are the published vectors, which are
// data, and crypto_kat_crosscheck.py reads them from this one file.
//
// Vector strings use one notation, parsed by bytes_of() here and by the cross-check script:
//   hex digits, whitespace ignored;  "HH*N": byte 0xHH repeated N times;  "ascii:TEXT".

#include <gtest/gtest.h>
#include <intel-ipsec-mb.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/hex.h"
#include "dataplane/crypto/crypto_backend.h"
#include "dataplane/crypto/sa_keys.h"

namespace espgw {
namespace {

using Bytes = std::vector<uint8_t>;
using crypto::BackendKind;
using crypto::CryptoOp;
using esp::Algorithm;
using esp::Cipher;
using esp::Integrity;

int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  throw std::invalid_argument(std::string("bad hex digit '") + c + "'");
}

Bytes bytes_of(std::string_view spec) {
  if (spec.starts_with("ascii:")) {
    spec.remove_prefix(6);
    return {spec.begin(), spec.end()};
  }
  Bytes out;
  size_t i = 0;
  while (i < spec.size()) {
    if (spec[i] == ' ' || spec[i] == '\n') {
      ++i;
      continue;
    }
    size_t end = spec.find_first_of(" \n", i);
    if (end == std::string_view::npos) end = spec.size();
    const std::string_view token = spec.substr(i, end - i);
    const size_t star = token.find('*');
    if (star != std::string_view::npos) {
      if (star != 2) throw std::invalid_argument("bad repeat token");
      const auto byte = static_cast<uint8_t>(nibble(token[0]) << 4 | nibble(token[1]));
      out.insert(out.end(), std::stoul(std::string(token.substr(3))), byte);
    } else {
      if (token.size() % 2 != 0) throw std::invalid_argument("odd number of hex digits");
      for (size_t k = 0; k < token.size(); k += 2)
        out.push_back(static_cast<uint8_t>(nibble(token[k]) << 4 | nibble(token[k + 1])));
    }
    i = end;
  }
  return out;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes slice(const Bytes& b, size_t off, size_t len) {
  return {b.begin() + static_cast<std::ptrdiff_t>(off),
          b.begin() + static_cast<std::ptrdiff_t>(off + len)};
}

std::string backend_label(BackendKind k) {
  return k == BackendKind::kIpsecMb ? "ipsecmb" : "openssl";
}

constexpr std::array kBackends = {BackendKind::kIpsecMb, BackendKind::kOpenSsl};

// ---------------------------------------------------------------------------------------------
// AES-GCM in ESP: draft-mcgrew-gcm-test-01 (March 2009), "Test Cases for the use of GCM and GMAC
// in IPsec ESP", section 4. The draft gives whole ESP packets. Its fields: key (the AES key;
// the 4-byte salt is the first 4 bytes of the nonce, RFC 4106 4), spi, seq (4 octets, or 8 octets
// for an extended sequence number: then seq_hi enters the AAD, RFC 4106 5, and only seq_lo is
// sent), nonce = salt || explicit IV, plaintext (payload, padding, pad length, next header), aad,
// ctext+tag, packet. The draft's cases are not numbered; they are cited by their order in section
// 4 (1 to 17) and page. Not used: case 7 (AES-192, which espgw does not offer) and case 15
// (AES-GMAC, ENCR_NULL_AUTH_AES_GMAC, not offered either).
// ---------------------------------------------------------------------------------------------
struct GcmEspVector {
  std::string_view name;
  std::string_view source;
  std::string_view key;
  std::string_view spi;
  std::string_view seq;
  std::string_view nonce;
  std::string_view plaintext;
  std::string_view aad;
  std::string_view ctext_tag;
  std::string_view packet;
};

const GcmEspVector kGcmEspVectors[] = {
    {.name = "mcgrew_case01_aes128_esn",
     .source = "draft-mcgrew-gcm-test-01 section 4, case 1 (page 7)",
     .key = "4c80cdefbb5d10da906ac73c3613a634",
     .spi = "00004321",
     .seq = "8765432100000000",
     .nonce = "2e443b684956ed7e3b244cfe",
     .plaintext = "45000048699a000080114db7c0a80102"
                  "c0a801010a9bf15638d3010000010000"
                  "00000000045f736970045f7564700373"
                  "69700963796265726369747902646b00"
                  "0021000101020201",
     .aad = "000043218765432100000000",
     .ctext_tag = "fecf537e729d5b07dc30df528dd22b76"
                  "8d1b98736696a6fd348509fa13ceac34"
                  "cfa2436f14a3f3cf65925bf1f4a13c5d"
                  "15b21e1884f5ff6247aeabb786b93bce"
                  "61bc17d768fd9732459018148f6cbe72"
                  "2fd04796562dfdb4",
     .packet = "00004321000000004956ed7e3b244cfe"
               "fecf537e729d5b07dc30df528dd22b76"
               "8d1b98736696a6fd348509fa13ceac34"
               "cfa2436f14a3f3cf65925bf1f4a13c5d"
               "15b21e1884f5ff6247aeabb786b93bce"
               "61bc17d768fd9732459018148f6cbe72"
               "2fd04796562dfdb4"},
    {.name = "mcgrew_case02_aes128",
     .source = "draft-mcgrew-gcm-test-01 section 4, case 2 (page 8)",
     .key = "feffe9928665731c6d6a8f9467308308",
     .spi = "0000a5f8",
     .seq = "0000000a",
     .nonce = "cafebabefacedbaddecaf888",
     .plaintext = "4500003e698f000080114dccc0a80102"
                  "c0a801010a980035002a2343b2d00100"
                  "00010000000000000373697009637962"
                  "65726369747902646b00000100010001",
     .aad = "0000a5f80000000a",
     .ctext_tag = "deb22cd9b07c72c16e3a65beeb8df304"
                  "a5a5897d33ae530f1ba76d5d114d2a5c"
                  "3de81827c10e9a4f51330d0eec416642"
                  "cfbb85a5b47e48a4ec3b9ba95d918bd1"
                  "83b70d3aa8bc6ee4c309e9d85a41ad4a",
     .packet = "0000a5f80000000afacedbaddecaf888"
               "deb22cd9b07c72c16e3a65beeb8df304"
               "a5a5897d33ae530f1ba76d5d114d2a5c"
               "3de81827c10e9a4f51330d0eec416642"
               "cfbb85a5b47e48a4ec3b9ba95d918bd1"
               "83b70d3aa8bc6ee4c309e9d85a41ad4a"},
    {.name = "mcgrew_case03_aes256",
     .source = "draft-mcgrew-gcm-test-01 section 4, case 3 (page 9)",
     .key = "abbccddef00112233445566778899aab"
            "abbccddef00112233445566778899aab",
     .spi = "4a2cbfe3",
     .seq = "00000002",
     .nonce = "112233440102030405060708",
     .plaintext = "4500003069a6400080062690c0a80102"
                  "9389155e0a9e008b2dc57ee000000000"
                  "7002400020bf0000020405b401010402"
                  "01020201",
     .aad = "4a2cbfe300000002",
     .ctext_tag = "ff425c9b724599df7a3bcd510194e00d"
                  "6a78107f1b0b1cbf06efae9d65a5d763"
                  "748a637985771d347f0545659f14e99d"
                  "ef842d8eb335f4eecfdbf831824b4c49"
                  "15956c96",
     .packet = "4a2cbfe3000000020102030405060708"
               "ff425c9b724599df7a3bcd510194e00d"
               "6a78107f1b0b1cbf06efae9d65a5d763"
               "748a637985771d347f0545659f14e99d"
               "ef842d8eb335f4eecfdbf831824b4c49"
               "15956c96"},
    {.name = "mcgrew_case04_aes128_zero_key",
     .source = "draft-mcgrew-gcm-test-01 section 4, case 4 (page 10)",
     .key = "00000000000000000000000000000000",
     .spi = "00000000",
     .seq = "00000001",
     .nonce = "000000000000000000000000",
     .plaintext = "4500003c99c500008001cb7a40679318"
                  "010101010800075c0200440061626364"
                  "65666768696a6b6c6d6e6f7071727374"
                  "75767761626364656667686901020201",
     .aad = "0000000000000001",
     .ctext_tag = "4688daf2f973a392732909c331d56d60"
                  "f694abaa414b5e7ff5fdcdfff5e9a284"
                  "456476492719ffb64de7d9dca1e1d894"
                  "bc3bd57873ed4d181d19d4d5c8c18af3"
                  "f821d496eeb096e98ad2b69e4799c71d",
     .packet = "00000000000000010000000000000000"
               "4688daf2f973a392732909c331d56d60"
               "f694abaa414b5e7ff5fdcdfff5e9a284"
               "456476492719ffb64de7d9dca1e1d894"
               "bc3bd57873ed4d181d19d4d5c8c18af3"
               "f821d496eeb096e98ad2b69e4799c71d"},
    {.name = "mcgrew_case05_aes128_esn",
     .source = "draft-mcgrew-gcm-test-01 section 4, case 5 (page 11)",
     .key = "3de09874b388e6491988d0c3607eae1f",
     .spi = "42f67e3f",
     .seq = "1010101010101010",
     .nonce = "57690e434e280000a2fca1a3",
     .plaintext = "4500003c99c300008001cb7c40679318"
                  "010101010800085c0200430061626364"
                  "65666768696a6b6c6d6e6f7071727374"
                  "75767761626364656667686901020201",
     .aad = "42f67e3f1010101010101010",
     .ctext_tag = "fba2caa4853cf9f0f22cb10d86dd83b0"
                  "fec75691cf1a04b00d1138ec9c357917"
                  "65acbd8701ad79845bf9fe3fba487bc9"
                  "1755e6662b4c8d0d1f5e22739530320a"
                  "e0d731cc978ecafaeae88f00e80d6e48",
     .packet = "42f67e3f101010104e280000a2fca1a3"
               "fba2caa4853cf9f0f22cb10d86dd83b0"
               "fec75691cf1a04b00d1138ec9c357917"
               "65acbd8701ad79845bf9fe3fba487bc9"
               "1755e6662b4c8d0d1f5e22739530320a"
               "e0d731cc978ecafaeae88f00e80d6e48"},
    {.name = "mcgrew_case06_aes128_esn",
     .source = "draft-mcgrew-gcm-test-01 section 4, case 6 (page 12)",
     .key = "3de09874b388e6491988d0c3607eae1f",
     .spi = "42f67e3f",
     .seq = "1010101010101010",
     .nonce = "57690e434e280000a2fca1a3",
     .plaintext = "4500001c42a200008001441f406793b6"
                  "e00000020a00f5ff01020201",
     .aad = "42f67e3f1010101010101010",
     .ctext_tag = "fba2ca845e5df9f0f22c3e6e86dd831e"
                  "1fc65792cd1af9130e1379ed369f071f"
                  "35e034be95f112e4e7d05d35",
     .packet = "42f67e3f101010104e280000a2fca1a3"
               "fba2ca845e5df9f0f22c3e6e86dd831e"
               "1fc65792cd1af9130e1379ed369f071f"
               "35e034be95f112e4e7d05d35"},
    {.name = "mcgrew_case08_aes128_esn",
     .source = "draft-mcgrew-gcm-test-01 section 4, case 8 (page 13)",
     .key = "abbccddef00112233445566778899aab",
     .spi = "00000100",
     .seq = "0000000000000001",
     .nonce = "decaf888cafedebaceface74",
     .plaintext = "4500004933ba00007f119106c3fb1d10"
                  "c2b1d326c02831ce0035dd7b800302d5"
                  "00004e20001e8c18d75b81dc91baa047"
                  "6b91b924b280389d92c963bac046ec95"
                  "9b6266c04722b14923010101",
     .aad = "000001000000000000000001",
     .ctext_tag = "18a6fd42f72cbf4ab2a2ea901f73d814"
                  "e3e7f243d95412e1c349c1d2fbec168f"
                  "9190feebaf2cb01984e65863965d7472"
                  "b79da345e0e780191f0d2f0e0f496c22"
                  "6f2127b27db35724e7845d68651f57e6"
                  "5f354f75ff17015769623436",
     .packet = "0000010000000001cafedebaceface74"
               "18a6fd42f72cbf4ab2a2ea901f73d814"
               "e3e7f243d95412e1c349c1d2fbec168f"
               "9190feebaf2cb01984e65863965d7472"
               "b79da345e0e780191f0d2f0e0f496c22"
               "6f2127b27db35724e7845d68651f57e6"
               "5f354f75ff17015769623436"},
    {.name = "mcgrew_case09_aes256_esn",
     .source = "draft-mcgrew-gcm-test-01 section 4, case 9 (page 14)",
     .key = "abbccddef00112233445566778899aab"
            "abbccddef00112233445566778899aab",
     .spi = "17405e67",
     .seq = "156f3126dd0db99b",
     .nonce = "73616c74616e640169766563",
     .plaintext = "45080028732c00004006e9f90a010612"
                  "0a01038f06b88023dd6bafbecb712602"
                  "50101f646d540001",
     .aad = "17405e67156f3126dd0db99b",
     .ctext_tag = "f2d69ecdbd5a0d5b8d5ef38bad4da58d"
                  "1f278fde98ef67549d524a3018d9a57f"
                  "f4d3a31ce673119e451626c2415771e3"
                  "b7eebca614c89b35",
     .packet = "17405e67dd0db99b616e640169766563"
               "f2d69ecdbd5a0d5b8d5ef38bad4da58d"
               "1f278fde98ef67549d524a3018d9a57f"
               "f4d3a31ce673119e451626c2415771e3"
               "b7eebca614c89b35"},
    {.name = "mcgrew_case10_aes128_esn",
     .source = "draft-mcgrew-gcm-test-01 section 4, case 10 (page 15)",
     .key = "3de09874b388e6491988d0c3607eae1f",
     .spi = "42f67e3f",
     .seq = "1010101010101010",
     .nonce = "57690e434e280000a2fca1a3",
     .plaintext = "45000049333e00007f119182c3fb1d10"
                  "c2b1d326c02831ce0035cb458003025b"
                  "000001e0001e8c18d65759d52284a035"
                  "2c71475c8880391c764d6e5ee0496b32"
                  "5ae270c03899493915010101",
     .aad = "42f67e3f1010101010101010",
     .ctext_tag = "fba2cad12fc1f9f00d3cebf305410db8"
                  "3d7784b607323d220f24b0a97d541828"
                  "00cadb0f68d99ef0e0c0c89ae9bea888"
                  "4e52d65bc1afd0740f742444747b5b39"
                  "ab533163aad4550ee5160975cdb608c5"
                  "769189609763b8e18caa81e2",
     .packet = "42f67e3f101010104e280000a2fca1a3"
               "fba2cad12fc1f9f00d3cebf305410db8"
               "3d7784b607323d220f24b0a97d541828"
               "00cadb0f68d99ef0e0c0c89ae9bea888"
               "4e52d65bc1afd0740f742444747b5b39"
               "ab533163aad4550ee5160975cdb608c5"
               "769189609763b8e18caa81e2"},
    {.name = "mcgrew_case11_aes256_esn",
     .source = "draft-mcgrew-gcm-test-01 section 4, case 11 (page 16)",
     .key = "abbccddef00112233445566778899aab"
            "abbccddef00112233445566778899aab",
     .spi = "17405e67",
     .seq = "156f3126dd0db99b",
     .nonce = "73616c74616e640169766563",
     .plaintext = "636973636f0172756c65730174686501"
                  "6e6574776501646566696e6501746865"
                  "746563686e6f6c6f6769657301746861"
                  "7477696c6c01646566696e65746f6d6f"
                  "72726f7701020201",
     .aad = "17405e67156f3126dd0db99b",
     .ctext_tag = "d4b7ed86a1777f2ea13d6973d324c69e"
                  "7b43f826fb56831226508bebd2dceb18"
                  "d0a6df10e5487df074113e14c641024e"
                  "3e6773d91a62ee429b043a10e3efe6b0"
                  "12a49363412364f8c0cac587f249e56b"
                  "11e24f30e44ccc76",
     .packet = "17405e67dd0db99b616e640169766563"
               "d4b7ed86a1777f2ea13d6973d324c69e"
               "7b43f826fb56831226508bebd2dceb18"
               "d0a6df10e5487df074113e14c641024e"
               "3e6773d91a62ee429b043a10e3efe6b0"
               "12a49363412364f8c0cac587f249e56b"
               "11e24f30e44ccc76"},
    {.name = "mcgrew_case12_aes128_seq_ffffffff",
     .source = "draft-mcgrew-gcm-test-01 section 4, case 12 (page 17)",
     .key = "7d773d00c144c525ac619d18c84a3f47",
     .spi = "335467ae",
     .seq = "ffffffff",
     .nonce = "d966426743457e9182443bc6",
     .plaintext = "01020201",
     .aad = "335467aeffffffff",
     .ctext_tag = "437f866bcb3f699fe9b0822bac961c45"
                  "04bef270",
     .packet = "335467aeffffffff43457e9182443bc6"
               "437f866bcb3f699fe9b0822bac961c45"
               "04bef270"},
    {.name = "mcgrew_case13_aes128_esn",
     .source = "draft-mcgrew-gcm-test-01 section 4, case 13 (page 17)",
     .key = "abbccddef00112233445566778899aab",
     .spi = "00000100",
     .seq = "0000000000000001",
     .nonce = "decaf888cafedebaceface74",
     .plaintext = "746f016265016f72016e6f7401746f01"
                  "62650001",
     .aad = "000001000000000000000001",
     .ctext_tag = "29c9fc69a197d038ccdd14e2ddfcaa05"
                  "43332164412503524303ed3c6c5f2838"
                  "43af8c3e",
     .packet = "0000010000000001cafedebaceface74"
               "29c9fc69a197d038ccdd14e2ddfcaa05"
               "43332164412503524303ed3c6c5f2838"
               "43af8c3e"},
    {.name = "mcgrew_case14_aes256_esn_all_ones",
     .source = "draft-mcgrew-gcm-test-01 section 4, case 14 (page 18)",
     .key = "6c6567616c697a656d6172696a75616e"
            "61616e64646f69746265666f72656961",
     .spi = "796b6963",
     .seq = "ffffffffffffffff",
     .nonce = "7475726e333021696765746d",
     .plaintext = "45000030da3a00008001df3bc0a80005"
                  "c0a800010800c6cd0200070061626364"
                  "65666768696a6b6c6d6e6f7071727374"
                  "01020201",
     .aad = "796b6963ffffffffffffffff",
     .ctext_tag = "f97ab2aa356d8edce17644ac8c78e25d"
                  "d24dedbb29ebf1b64a274b39b49c3a86"
                  "4cd3d78ca4ae68a32b42458fb57dbe82"
                  "1dcc63b9d0937ba2945f669368661a32"
                  "9fb4c053",
     .packet = "796b6963ffffffff333021696765746d"
               "f97ab2aa356d8edce17644ac8c78e25d"
               "d24dedbb29ebf1b64a274b39b49c3a86"
               "4cd3d78ca4ae68a32b42458fb57dbe82"
               "1dcc63b9d0937ba2945f669368661a32"
               "9fb4c053"},
    {.name = "mcgrew_case16_aes128_esn",
     .source = "draft-mcgrew-gcm-test-01 section 4, case 16 (page 20)",
     .key = "3de09874b388e6491988d0c3607eae1f",
     .spi = "3f7ef642",
     .seq = "1010101010101010",
     .nonce = "57690e434e280000a2fca1a3",
     .plaintext = "45000030da3a00008001df3bc0a80005"
                  "c0a800010800c6cd0200070061626364"
                  "65666768696a6b6c6d6e6f7071727374"
                  "01020201",
     .aad = "3f7ef6421010101010101010",
     .ctext_tag = "fba2caa8c6c5f9f0f22ca54a061210ad"
                  "3f6e5791cf1aca210d117cec9c357917"
                  "65acbd8701ad79845bf9fe3fba487bc9"
                  "6321930684eecadb56912546e7a95c97"
                  "40d7cb05",
     .packet = "3f7ef642101010104e280000a2fca1a3"
               "fba2caa8c6c5f9f0f22ca54a061210ad"
               "3f6e5791cf1aca210d117cec9c357917"
               "65acbd8701ad79845bf9fe3fba487bc9"
               "6321930684eecadb56912546e7a95c97"
               "40d7cb05"},
    {.name = "mcgrew_case17_aes128_esn",
     .source = "draft-mcgrew-gcm-test-01 section 4, case 17 (page 21)",
     .key = "4c80cdefbb5d10da906ac73c3613a634",
     .spi = "00004321",
     .seq = "8765432100000007",
     .nonce = "22433c644855ec7d3a234bfd",
     .plaintext = "0800c6cd020007006162636465666768"
                  "696a6b6c6d6e6f707172737401020201",
     .aad = "000043218765432100000007",
     .ctext_tag = "74752e8aeb5d873cd7c0f4acc36c4bff"
                  "84b7d7b98f0ca8b6acda6894bc619069"
                  "ef9cbc28fe1b56a7c4e0d58c86cd2bc0",
     .packet = "00004321000000074855ec7d3a234bfd"
               "74752e8aeb5d873cd7c0f4acc36c4bff"
               "84b7d7b98f0ca8b6acda6894bc619069"
               "ef9cbc28fe1b56a7c4e0d58c86cd2bc0"},
};

// One draft vector in the shapes the test needs, with the draft's own fields checked against
// each other first (RFC 4106 3.1, 5; RFC 4303 2).
struct GcmEspCase {
  Algorithm alg;
  Bytes key, salt, iv, plaintext, packet;
  bool esn;
  uint32_t seq_hi;

  explicit GcmEspCase(const GcmEspVector& v) {
    key = bytes_of(v.key);
    const Bytes spi = bytes_of(v.spi);
    const Bytes seq = bytes_of(v.seq);
    const Bytes nonce = bytes_of(v.nonce);
    plaintext = bytes_of(v.plaintext);
    packet = bytes_of(v.packet);
    alg = {Cipher::kAesGcm16, static_cast<uint8_t>(key.size()), Integrity::kNone};
    salt = slice(nonce, 0, 4);
    iv = slice(nonce, 4, 8);
    esn = seq.size() == 8;
    seq_hi = esn ? load_be32(seq.data()) : 0;
    const Bytes seq_lo = slice(seq, seq.size() - 4, 4);
    // The AAD is SPI || [seq_hi] || seq_lo: what CryptoOp builds from the header and seq_hi.
    EXPECT_EQ(bytes_of(v.aad), esn ? cat({spi, slice(seq, 0, 4), seq_lo}) : cat({spi, seq_lo}));
    EXPECT_EQ(packet, cat({spi, seq_lo, iv, bytes_of(v.ctext_tag)}));
    EXPECT_EQ(packet.size(), 8 + 8 + plaintext.size() + 16);
  }

  uint32_t ct_len() const { return static_cast<uint32_t>(plaintext.size()); }
};

// A CryptoOp over an ESP packet laid out as RFC 4303 2 has it: header, IV, ciphertext, ICV.
CryptoOp esp_op(const crypto::SaKeys& keys, Bytes& pkt, uint32_t iv_len, uint32_t ct_len, bool esn,
                uint32_t seq_hi) {
  uint8_t* esp = pkt.data();
  return CryptoOp{
      &keys,  esp, esp + 8, esp + 8 + iv_len, esp + 8 + iv_len, ct_len, esp + 8 + iv_len + ct_len,
      seq_hi, esn, false};
}

class GcmEspKat : public testing::TestWithParam<std::tuple<BackendKind, size_t>> {
 protected:
  BackendKind kind() const { return std::get<0>(GetParam()); }
  const GcmEspVector& vec() const { return kGcmEspVectors[std::get<1>(GetParam())]; }
};

TEST_P(GcmEspKat, EncryptGivesThePublishedPacket) {
  SCOPED_TRACE(std::string(vec().source));
  const GcmEspCase c(vec());
  auto keys = crypto::prepare_keys(c.alg, c.key, c.salt, {});
  auto backend = crypto::make_backend(kind());

  // The packet before encryption: header and IV as sent, the plaintext where the ciphertext goes.
  Bytes pkt = cat({slice(c.packet, 0, 16), c.plaintext, Bytes(16, 0)});
  CryptoOp op = esp_op(*keys, pkt, 8, c.ct_len(), c.esn, c.seq_hi);
  backend->encrypt({&op, 1});
  EXPECT_TRUE(op.ok);
  EXPECT_EQ(to_hex(pkt), to_hex(c.packet));
}

TEST_P(GcmEspKat, DecryptRecoversThePlaintextAndRejectsAFlippedIcvBit) {
  SCOPED_TRACE(std::string(vec().source));
  const GcmEspCase c(vec());
  auto keys = crypto::prepare_keys(c.alg, c.key, c.salt, {});
  auto backend = crypto::make_backend(kind());

  Bytes pkt = c.packet;
  CryptoOp op = esp_op(*keys, pkt, 8, c.ct_len(), c.esn, c.seq_hi);
  backend->decrypt({&op, 1});
  EXPECT_TRUE(op.ok);
  EXPECT_EQ(to_hex(slice(pkt, 16, c.ct_len())), to_hex(c.plaintext));

  for (size_t bit : {size_t{0}, size_t{127}}) {
    SCOPED_TRACE("ICV bit " + std::to_string(bit));
    pkt = c.packet;
    pkt[16 + c.ct_len() + bit / 8] ^= static_cast<uint8_t>(0x80 >> (bit % 8));
    op = esp_op(*keys, pkt, 8, c.ct_len(), c.esn, c.seq_hi);
    backend->decrypt({&op, 1});
    EXPECT_FALSE(op.ok);
  }
}

// RFC 4106 5: with ESN the high half of the sequence number is authenticated although it is not
// sent. The published tag must depend on it, and only when ESN is on.
TEST_P(GcmEspKat, SequenceHighBitsAreAuthenticatedExactlyWithEsn) {
  SCOPED_TRACE(std::string(vec().source));
  const GcmEspCase c(vec());
  auto keys = crypto::prepare_keys(c.alg, c.key, c.salt, {});
  auto backend = crypto::make_backend(kind());

  Bytes pkt = c.packet;
  CryptoOp op = esp_op(*keys, pkt, 8, c.ct_len(), c.esn, c.seq_hi + 1);
  backend->decrypt({&op, 1});
  EXPECT_EQ(op.ok, !c.esn) << "seq_hi + 1";

  pkt = c.packet;
  op = esp_op(*keys, pkt, 8, c.ct_len(), !c.esn, c.seq_hi);
  backend->decrypt({&op, 1});
  // Without ESN the AAD is 8 bytes; seq_hi = 0 and ESN on gives a 12-byte AAD. Either way the
  // AAD differs from the published one, so the tag must not verify.
  EXPECT_FALSE(op.ok) << "ESN flag flipped";
}

std::string gcm_esp_name(const testing::TestParamInfo<std::tuple<BackendKind, size_t>>& info) {
  return backend_label(std::get<0>(info.param)) + "_" +
         std::string(kGcmEspVectors[std::get<1>(info.param)].name);
}

INSTANTIATE_TEST_SUITE_P(DraftMcgrewGcmTest01, GcmEspKat,
                         testing::Combine(testing::ValuesIn(kBackends),
                                          testing::Range(size_t{0}, std::size(kGcmEspVectors))),
                         gcm_esp_name);

// All draft vectors in one burst: each op must come out as if it ran alone.
TEST(GcmEspKatBurst, AllVectorsInOneBurstOnBothBackends) {
  for (BackendKind kind : kBackends) {
    SCOPED_TRACE(backend_label(kind));
    auto backend = crypto::make_backend(kind);
    std::vector<GcmEspCase> cases;
    std::vector<std::unique_ptr<crypto::SaKeys>> keys;
    std::vector<Bytes> pkts;
    std::vector<CryptoOp> ops;
    for (const auto& v : kGcmEspVectors) {
      cases.emplace_back(v);
      const auto& c = cases.back();
      keys.push_back(crypto::prepare_keys(c.alg, c.key, c.salt, {}));
      pkts.push_back(cat({slice(c.packet, 0, 16), c.plaintext, Bytes(16, 0)}));
    }
    for (size_t i = 0; i < cases.size(); ++i)
      ops.push_back(esp_op(*keys[i], pkts[i], 8, cases[i].ct_len(), cases[i].esn, cases[i].seq_hi));
    backend->encrypt(ops);
    for (size_t i = 0; i < cases.size(); ++i) {
      EXPECT_TRUE(ops[i].ok) << kGcmEspVectors[i].name;
      EXPECT_EQ(to_hex(pkts[i]), to_hex(cases[i].packet)) << kGcmEspVectors[i].name;
    }
    // Decrypt the lot, every other packet with a flipped tag bit.
    for (size_t i = 0; i < cases.size(); ++i) {
      if (i % 2 == 1) pkts[i].back() ^= 1;
      ops[i].ok = false;
    }
    backend->decrypt(ops);
    for (size_t i = 0; i < cases.size(); ++i) {
      EXPECT_EQ(ops[i].ok, i % 2 == 0) << kGcmEspVectors[i].name;
      if (i % 2 == 0) {
        EXPECT_EQ(to_hex(slice(pkts[i], 16, cases[i].ct_len())), to_hex(cases[i].plaintext))
            << kGcmEspVectors[i].name;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The GCM specification's own test cases: D. McGrew and J. Viega, "The Galois/Counter Mode of
// Operation (GCM)", revised 2005, Appendix B (the vectors NIST SP 800-38D points to). Those with a
// 96-bit IV fit the ESP nonce shape (salt = IV[0..4), explicit IV = IV[4..12)) and a 16-byte tag.
// None fits CryptoOp, whose AAD is always the 8- or 12-byte ESP header (the cases have no AAD or a
// 20-byte one), so they are run one layer down: SaKeys from prepare_keys() driven straight into
// intel-ipsec-mb's GCM API (with the precomputed key) and OpenSSL EVP (with the raw key and salt).
// Test cases 5, 6, 11, 12, 17 and 18 use 64- or 480-bit IVs; 7 to 12 are AES-192: not used.
// ---------------------------------------------------------------------------------------------
struct GcmSpecVector {
  std::string_view name;
  std::string_view source;
  std::string_view key;
  std::string_view iv;
  std::string_view plaintext;
  std::string_view aad;
  std::string_view ciphertext;
  std::string_view tag;
};

// Test cases 3 and 4 (and 15 and 16) share the plaintext; 4 and 16 drop its last 4 bytes.
const GcmSpecVector kGcmSpecVectors[] = {
    {.name = "tc01_aes128_empty",
     .source = "McGrew & Viega GCM spec, Appendix B, Test Case 1",
     .key = "00*16",
     .iv = "00*12",
     .plaintext = "",
     .aad = "",
     .ciphertext = "",
     .tag = "58e2fccefa7e3061367f1d57a4e7455a"},
    {.name = "tc02_aes128_one_block",
     .source = "McGrew & Viega GCM spec, Appendix B, Test Case 2",
     .key = "00*16",
     .iv = "00*12",
     .plaintext = "00*16",
     .aad = "",
     .ciphertext = "0388dace60b6a392f328c2b971b2fe78",
     .tag = "ab6e47d42cec13bdf53a67b21257bddf"},
    {.name = "tc03_aes128_four_blocks",
     .source = "McGrew & Viega GCM spec, Appendix B, Test Case 3",
     .key = "feffe9928665731c6d6a8f9467308308",
     .iv = "cafebabefacedbaddecaf888",
     .plaintext = "d9313225f88406e5a55909c5aff5269a"
                  "86a7a9531534f7da2e4c303d8a318a72"
                  "1c3c0c95956809532fcf0e2449a6b525"
                  "b16aedf5aa0de657ba637b391aafd255",
     .aad = "",
     .ciphertext = "42831ec2217774244b7221b784d0d49c"
                   "e3aa212f2c02a4e035c17e2329aca12e"
                   "21d514b25466931c7d8f6a5aac84aa05"
                   "1ba30b396a0aac973d58e091473f5985",
     .tag = "4d5c2af327cd64a62cf35abd2ba6fab4"},
    {.name = "tc04_aes128_aad",
     .source = "McGrew & Viega GCM spec, Appendix B, Test Case 4",
     .key = "feffe9928665731c6d6a8f9467308308",
     .iv = "cafebabefacedbaddecaf888",
     .plaintext = "d9313225f88406e5a55909c5aff5269a"
                  "86a7a9531534f7da2e4c303d8a318a72"
                  "1c3c0c95956809532fcf0e2449a6b525"
                  "b16aedf5aa0de657ba637b39",
     .aad = "feedfacedeadbeeffeedfacedeadbeef"
            "abaddad2",
     .ciphertext = "42831ec2217774244b7221b784d0d49c"
                   "e3aa212f2c02a4e035c17e2329aca12e"
                   "21d514b25466931c7d8f6a5aac84aa05"
                   "1ba30b396a0aac973d58e091",
     .tag = "5bc94fbc3221a5db94fae95ae7121a47"},
    {.name = "tc13_aes256_empty",
     .source = "McGrew & Viega GCM spec, Appendix B, Test Case 13",
     .key = "00*32",
     .iv = "00*12",
     .plaintext = "",
     .aad = "",
     .ciphertext = "",
     .tag = "530f8afbc74536b9a963b4f1c4cb738b"},
    {.name = "tc14_aes256_one_block",
     .source = "McGrew & Viega GCM spec, Appendix B, Test Case 14",
     .key = "00*32",
     .iv = "00*12",
     .plaintext = "00*16",
     .aad = "",
     .ciphertext = "cea7403d4d606b6e074ec5d3baf39d18",
     .tag = "d0d1c8a799996bf0265b98b5d48ab919"},
    {.name = "tc15_aes256_four_blocks",
     .source = "McGrew & Viega GCM spec, Appendix B, Test Case 15",
     .key = "feffe9928665731c6d6a8f9467308308"
            "feffe9928665731c6d6a8f9467308308",
     .iv = "cafebabefacedbaddecaf888",
     .plaintext = "d9313225f88406e5a55909c5aff5269a"
                  "86a7a9531534f7da2e4c303d8a318a72"
                  "1c3c0c95956809532fcf0e2449a6b525"
                  "b16aedf5aa0de657ba637b391aafd255",
     .aad = "",
     .ciphertext = "522dc1f099567d07f47f37a32a84427d"
                   "643a8cdcbfe5c0c97598a2bd2555d1aa"
                   "8cb08e48590dbb3da7b08b1056828838"
                   "c5f61e6393ba7a0abcc9f662898015ad",
     .tag = "b094dac5d93471bdec1a502270e3cc6c"},
    {.name = "tc16_aes256_aad",
     .source = "McGrew & Viega GCM spec, Appendix B, Test Case 16",
     .key = "feffe9928665731c6d6a8f9467308308"
            "feffe9928665731c6d6a8f9467308308",
     .iv = "cafebabefacedbaddecaf888",
     .plaintext = "d9313225f88406e5a55909c5aff5269a"
                  "86a7a9531534f7da2e4c303d8a318a72"
                  "1c3c0c95956809532fcf0e2449a6b525"
                  "b16aedf5aa0de657ba637b39",
     .aad = "feedfacedeadbeeffeedfacedeadbeef"
            "abaddad2",
     .ciphertext = "522dc1f099567d07f47f37a32a84427d"
                   "643a8cdcbfe5c0c97598a2bd2555d1aa"
                   "8cb08e48590dbb3da7b08b1056828838"
                   "c5f61e6393ba7a0abcc9f662",
     .tag = "76fc6ece0f4e1768cddf8853bb2d551b"},
};

class GcmSpecKat : public testing::TestWithParam<size_t> {};

TEST_P(GcmSpecKat, PreparedKeysGiveThePublishedCiphertextAndTag) {
  const GcmSpecVector& v = kGcmSpecVectors[GetParam()];
  SCOPED_TRACE(std::string(v.source));
  const Bytes key = bytes_of(v.key), iv = bytes_of(v.iv), pt = bytes_of(v.plaintext);
  const Bytes aad = bytes_of(v.aad), ct = bytes_of(v.ciphertext), tag = bytes_of(v.tag);
  const Algorithm alg{Cipher::kAesGcm16, static_cast<uint8_t>(key.size()), Integrity::kNone};
  const Bytes salt = slice(iv, 0, 4);
  auto keys = crypto::prepare_keys(alg, key, salt, {});
  ASSERT_EQ(Bytes(keys->salt, keys->salt + 4), salt);
  ASSERT_EQ(Bytes(keys->cipher_key, keys->cipher_key + key.size()), key);

  // intel-ipsec-mb, from the hash-key tables prepare_keys() computed.
  IMB_MGR* mgr = alloc_mb_mgr(0);
  ASSERT_NE(mgr, nullptr);
  init_mb_mgr_auto(mgr, nullptr);
  // Empty inputs still get a valid pointer, which the library's argument checks accept.
  const uint8_t none[16] = {};
  const uint8_t* in = pt.empty() ? none : pt.data();
  const uint8_t* a = aad.empty() ? none : aad.data();
  Bytes out(pt.size() + 1), got_tag(16);
  struct gcm_context_data ctx;
  if (key.size() == 16) {
    IMB_AES128_GCM_ENC(mgr, &keys->imb.gcm, &ctx, out.data(), in, pt.size(), iv.data(), a,
                       aad.size(), got_tag.data(), 16);
  } else {
    IMB_AES256_GCM_ENC(mgr, &keys->imb.gcm, &ctx, out.data(), in, pt.size(), iv.data(), a,
                       aad.size(), got_tag.data(), 16);
  }
  out.resize(pt.size());
  EXPECT_EQ(to_hex(out), to_hex(ct)) << "intel-ipsec-mb";
  EXPECT_EQ(to_hex(got_tag), to_hex(tag)) << "intel-ipsec-mb";
  free_mb_mgr(mgr);

  // OpenSSL, from the raw key and the nonce rebuilt from salt and explicit IV.
  Bytes nonce = cat({Bytes(keys->salt, keys->salt + 4), slice(iv, 4, 8)});
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  int n = 0;
  out.assign(pt.size() + 16, 0);
  const bool ok = c != nullptr &&
                  EVP_EncryptInit_ex(c, key.size() == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm(),
                                     nullptr, keys->cipher_key, nonce.data()) == 1 &&
                  (aad.empty() || EVP_EncryptUpdate(c, nullptr, &n, aad.data(),
                                                    static_cast<int>(aad.size())) == 1) &&
                  (pt.empty() || EVP_EncryptUpdate(c, out.data(), &n, pt.data(),
                                                   static_cast<int>(pt.size())) == 1) &&
                  EVP_EncryptFinal_ex(c, out.data() + pt.size(), &n) == 1 &&
                  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, got_tag.data()) == 1;
  EVP_CIPHER_CTX_free(c);
  ASSERT_TRUE(ok) << "OpenSSL AES-GCM";
  out.resize(pt.size());
  EXPECT_EQ(to_hex(out), to_hex(ct)) << "OpenSSL";
  EXPECT_EQ(to_hex(got_tag), to_hex(tag)) << "OpenSSL";
}

INSTANTIATE_TEST_SUITE_P(McGrewViegaAppendixB, GcmSpecKat,
                         testing::Range(size_t{0}, std::size(kGcmSpecVectors)),
                         [](const testing::TestParamInfo<size_t>& p) {
                           return std::string(kGcmSpecVectors[p.param].name);
                         });

// ---------------------------------------------------------------------------------------------
// AES-CBC. RFC 3602 section 4: cases 1-4 encrypt bare blocks, cases 5-8 are ESP packets (all with
// 128-bit keys; the ESP cases have no integrity algorithm). RFC 3602 has no 256-bit case, so
// AES-256-CBC uses NIST SP 800-38A, Appendix F.2.5 (CBC-AES256.Encrypt; F.2.6 is its reverse),
// with F.2.1 as the 128-bit counterpart.
//
// CryptoOp only does CBC with an HMAC, and the CBC vectors publish no ICV. So each vector runs
// under every HMAC integrity with a fixed integrity key: the ciphertext must be the published one;
// the ICV must be the HMAC, computed here with OpenSSL's one-shot HMAC(), over SPI || seq || IV ||
// published ciphertext [|| seq_hi] (RFC 4303 2, 2.2.1), truncated (RFC 2404, RFC 4868 2.3). That
// HMAC is itself pinned by the HMAC vectors below. Vectors that are not ESP packets get a made-up
// ESP header (SPI 0x00001234, seq 1).
// ---------------------------------------------------------------------------------------------
struct CbcVector {
  std::string_view name;
  std::string_view source;
  std::string_view key;
  std::string_view iv;
  std::string_view plaintext;
  std::string_view ciphertext;
  std::string_view spi = "00001234";
  std::string_view seq = "00000001";
};

const CbcVector kCbcVectors[] = {
    {.name = "rfc3602_case1_aes128_1_block",
     .source = "RFC 3602 section 4, Case #1",
     .key = "06a9214036b8a15b512e03d534120006",
     .iv = "3dafba429d9eb430b422da802c9fac41",
     .plaintext = "ascii:Single block msg",
     .ciphertext = "e353779c1079aeb82708942dbe77181a"},
    {.name = "rfc3602_case2_aes128_2_blocks",
     .source = "RFC 3602 section 4, Case #2",
     .key = "c286696d887c9aa0611bbb3e2025a45a",
     .iv = "562e17996d093d28ddb3ba695a2e6f58",
     .plaintext = "000102030405060708090a0b0c0d0e0f"
                  "101112131415161718191a1b1c1d1e1f",
     .ciphertext = "d296cd94c2cccf8a3a863028b5e1dc0a"
                   "7586602d253cfff91b8266bea6d61ab1"},
    {.name = "rfc3602_case3_aes128_3_blocks",
     .source = "RFC 3602 section 4, Case #3",
     .key = "6c3ea0477630ce21a2ce334aa746c2cd",
     .iv = "c782dc4c098c66cbd9cd27d825682c81",
     .plaintext = "ascii:This is a 48-byte message (exactly 3 AES blocks)",
     .ciphertext = "d0a02b3836451753d493665d33f0e886"
                   "2dea54cdb293abc7506939276772f8d5"
                   "021c19216bad525c8579695d83ba2684"},
    {.name = "rfc3602_case4_aes128_4_blocks",
     .source = "RFC 3602 section 4, Case #4",
     .key = "56e47a38c5598974bc46903dba290349",
     .iv = "8ce82eefbea0da3c44699ed7db51b7d9",
     .plaintext = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
                  "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
                  "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
                  "d0d1d2d3d4d5d6d7d8d9dadbdcdddedf",
     .ciphertext = "c30e32ffedc0774e6aff6af0869f71aa"
                   "0f3af07a9a31a9c684db207eb0ef8e4e"
                   "35907aa632c3ffdf868bb7b29d3d46ad"
                   "83ce9f9a102ee99d49a53e87f4c3da55"},
    // Plaintext: the case's "pre-encryption data with padding, pad length and next header".
    {.name = "rfc3602_case5_esp_transport",
     .source = "RFC 3602 section 4, Case #5 (transport-mode ESP, ping 192.168.123.100)",
     .key = "90d382b4 10eeba7a d938c46c ec1a82bf",
     .iv = "e96e8c08 ab465763 fd098d45 dd3ff893",
     .plaintext = "08000ebd a70a0000 8e9c083d b95b0700 08090a0b 0c0d0e0f 10111213 14151617"
                  " 18191a1b 1c1d1e1f 20212223 24252627 28292a2b 2c2d2e2f 30313233 34353637"
                  " 01020304 05060708 090a0b0c 0d0e0e01",
     .ciphertext = "f663c25d 325c18c6 a9453e19 4e120849 a4870b66 cc6b9965 330013b4 898dc856"
                   " a4699e52 3a55db08 0b59ec3a 8e4b7e52 775b07d1 db34ed9c 538ab50c 551b874a"
                   " a269add0 47ad2d59 13ac19b7 cfbad4a6",
     .spi = "00004321",
     .seq = "00000001"},
    {.name = "rfc3602_case6_esp_transport",
     .source = "RFC 3602 section 4, Case #6 (transport-mode ESP, ping -p 77 -s 20)",
     .key = "90d382b4 10eeba7a d938c46c ec1a82bf",
     .iv = "69d08df7 d203329d b093fc49 24e5bd80",
     .plaintext = "0800b5e8 a80a0500 a69c083d 0b660e00 77777777 77777777 77777777"
                  " 0102 02 01",
     .ciphertext = "f5199588 1ec4e0c4 488987ce 742e8109 689bb379 d2d750c0 d915dca3 46a89f75",
     .spi = "00004321",
     .seq = "00000008"},
    {.name = "rfc3602_case7_esp_tunnel",
     .source = "RFC 3602 section 4, Case #7 (tunnel-mode ESP, ping 192.168.123.200)",
     .key = "01234567 89abcdef 01234567 89abcdef",
     .iv = "f4e76524 4f6407ad f13dc138 0f673f37",
     .plaintext = "45000054 09040000 4001f988 c0a87b03 c0a87bc8 08009f76 a90a0100 b49c083d"
                  " 02a20400 08090a0b 0c0d0e0f 10111213 14151617 18191a1b 1c1d1e1f 20212223"
                  " 24252627 28292a2b 2c2d2e2f 30313233 34353637"
                  " 01020304 05060708 090a 0a 04",
     .ciphertext = "773b5241 a4c44922 5e4f3ce5 ed611b0c 237ca96c f74a9301 3c1b0ea1 a0cf70f8"
                   " e4ecaec7 8ac53aad 7a0f022b 859243c6 47752e94 a859352b 8a4d4d2d ecd136e5"
                   " c177f132 ad3fbfb2 201ac990 4c74ee0a 109e0ca1 e4dfe9d5 a100b842 f1c22f0d",
     .spi = "00008765",
     .seq = "00000002"},
    {.name = "rfc3602_case8_esp_tunnel",
     .source = "RFC 3602 section 4, Case #8 (tunnel-mode ESP, ping -p ff -s 40)",
     .key = "01234567 89abcdef 01234567 89abcdef",
     .iv = "85d47224 b5f3dd5d 2101d4ea 8dffab22",
     .plaintext = "45000044 090c0000 4001f990 c0a87b03 c0a87bc8 0800d63c aa0a0200 c69c083d"
                  " a3de0300 ff*32"
                  " 01020304 05060708 090a 0a 04",
     .ciphertext = "15b92683 819596a8 047232cc 00f7048f e45318e1 1f8a0f62 ede3c3fc 61203bb5"
                   " 0f980a08 c9843fd3 a1b06d5c 07ff9639 b7eb7dfb 3512e5de 435e7207 ed971ef3"
                   " d2726d9b 5ef6affc 6d17a0de cbb13892",
     .spi = "00008765",
     .seq = "00000005"},
    {.name = "sp800_38a_f21_aes128",
     .source = "NIST SP 800-38A Appendix F.2.1 (CBC-AES128.Encrypt)",
     .key = "2b7e151628aed2a6abf7158809cf4f3c",
     .iv = "000102030405060708090a0b0c0d0e0f",
     .plaintext = "6bc1bee22e409f96e93d7e117393172a"
                  "ae2d8a571e03ac9c9eb76fac45af8e51"
                  "30c81c46a35ce411e5fbc1191a0a52ef"
                  "f69f2445df4f9b17ad2b417be66c3710",
     .ciphertext = "7649abac8119b246cee98e9b12e9197d"
                   "5086cb9b507219ee95db113a917678b2"
                   "73bed6b8e3c1743b7116e69e22229516"
                   "3ff1caa1681fac09120eca307586e1a7"},
    {.name = "sp800_38a_f25_aes256",
     .source = "NIST SP 800-38A Appendix F.2.5 (CBC-AES256.Encrypt)",
     .key = "603deb1015ca71be2b73aef0857d7781"
            "1f352c073b6108d72d9810a30914dff4",
     .iv = "000102030405060708090a0b0c0d0e0f",
     .plaintext = "6bc1bee22e409f96e93d7e117393172a"
                  "ae2d8a571e03ac9c9eb76fac45af8e51"
                  "30c81c46a35ce411e5fbc1191a0a52ef"
                  "f69f2445df4f9b17ad2b417be66c3710",
     .ciphertext = "f58c4c04d6e5f1ba779eabfb5f7bfbd6"
                   "9cfc4e967edb808d679f777bc6702c7d"
                   "39f23369a9d9bacfa530e26304231461"
                   "b2eb05e2c39be9fcda6c19078c6a9d1b"},
};

constexpr std::array kHmacs = {Integrity::kHmacSha1_96, Integrity::kHmacSha256_128,
                               Integrity::kHmacSha384_192, Integrity::kHmacSha512_256};

const EVP_MD* evp_md(Integrity i) {
  switch (i) {
    case Integrity::kHmacSha1_96: return EVP_sha1();
    case Integrity::kHmacSha256_128: return EVP_sha256();
    case Integrity::kHmacSha384_192: return EVP_sha384();
    case Integrity::kHmacSha512_256: return EVP_sha512();
    case Integrity::kNone: break;
  }
  return nullptr;
}

std::string integrity_label(Integrity i) {
  return Algorithm{Cipher::kAesCbc, 16, i}.name().substr(7);  // "aes128-" stripped
}

// Reference ICV: HMAC over the authenticated bytes, truncated to the algorithm's ICV length.
Bytes reference_icv(const Algorithm& alg, const Bytes& auth_key, const Bytes& covered, bool esn,
                    uint32_t seq_hi) {
  Bytes msg = covered;
  if (esn) {
    msg.resize(msg.size() + 4);
    store_be32(msg.data() + msg.size() - 4, seq_hi);
  }
  Bytes mac(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  HMAC(evp_md(alg.integrity), auth_key.data(), static_cast<int>(auth_key.size()), msg.data(),
       msg.size(), mac.data(), &len);
  mac.resize(alg.icv_bytes());
  return mac;
}

class CbcKat
    : public testing::TestWithParam<std::tuple<BackendKind, size_t, Integrity, bool /*esn*/>> {
 protected:
  BackendKind kind() const { return std::get<0>(GetParam()); }
  const CbcVector& vec() const { return kCbcVectors[std::get<1>(GetParam())]; }
  Integrity integrity() const { return std::get<2>(GetParam()); }
  bool esn() const { return std::get<3>(GetParam()); }
};

TEST_P(CbcKat, CiphertextIsPublishedAndIcvCoversHeaderIvAndCiphertext) {
  const CbcVector& v = vec();
  SCOPED_TRACE(std::string(v.source));
  const Bytes key = bytes_of(v.key), iv = bytes_of(v.iv), pt = bytes_of(v.plaintext);
  const Bytes ct = bytes_of(v.ciphertext), header = cat({bytes_of(v.spi), bytes_of(v.seq)});
  ASSERT_EQ(pt.size(), ct.size());
  ASSERT_EQ(pt.size() % 16, 0u);
  const Algorithm alg{Cipher::kAesCbc, static_cast<uint8_t>(key.size()), integrity()};
  // Any fixed key of the algorithm's length (RFC 2404 2, RFC 4868 2.1.1) does: 0x0b bytes.
  const Bytes auth_key(alg.auth_key_bytes(), 0x0b);
  const uint32_t seq_hi = 0x00c0ffee;
  auto keys = crypto::prepare_keys(alg, key, {}, auth_key);
  auto backend = crypto::make_backend(kind());
  const auto ct_len = static_cast<uint32_t>(ct.size());

  const Bytes published = cat({header, iv, ct});
  const Bytes icv = reference_icv(alg, auth_key, published, esn(), seq_hi);

  Bytes pkt = cat({header, iv, pt, Bytes(alg.icv_bytes(), 0)});
  CryptoOp op = esp_op(*keys, pkt, 16, ct_len, esn(), seq_hi);
  backend->encrypt({&op, 1});
  EXPECT_TRUE(op.ok);
  EXPECT_EQ(to_hex(pkt), to_hex(cat({published, icv})));

  pkt = cat({published, icv});
  op = esp_op(*keys, pkt, 16, ct_len, esn(), seq_hi);
  backend->decrypt({&op, 1});
  EXPECT_TRUE(op.ok);
  EXPECT_EQ(to_hex(slice(pkt, 24, ct_len)), to_hex(pt));
  EXPECT_EQ(to_hex(slice(pkt, 24 + ct_len, icv.size())), to_hex(icv)) << "ICV left in place";

  for (size_t byte : {size_t{0}, icv.size() - 1}) {
    SCOPED_TRACE("ICV byte " + std::to_string(byte));
    pkt = cat({published, icv});
    pkt[24 + ct_len + byte] ^= 0x01;
    op = esp_op(*keys, pkt, 16, ct_len, esn(), seq_hi);
    backend->decrypt({&op, 1});
    EXPECT_FALSE(op.ok);
  }
  if (esn()) {
    pkt = cat({published, icv});
    op = esp_op(*keys, pkt, 16, ct_len, true, seq_hi ^ 0x80000000u);
    backend->decrypt({&op, 1});
    EXPECT_FALSE(op.ok) << "seq_hi is authenticated (RFC 4303 2.2.1)";
  }
}

std::string cbc_name(
    const testing::TestParamInfo<std::tuple<BackendKind, size_t, Integrity, bool>>& info) {
  return backend_label(std::get<0>(info.param)) + "_" +
         std::string(kCbcVectors[std::get<1>(info.param)].name) + "_" +
         integrity_label(std::get<2>(info.param)) + (std::get<3>(info.param) ? "_esn" : "");
}

INSTANTIATE_TEST_SUITE_P(Rfc3602AndSp80038a, CbcKat,
                         testing::Combine(testing::ValuesIn(kBackends),
                                          testing::Range(size_t{0}, std::size(kCbcVectors)),
                                          testing::ValuesIn(kHmacs), testing::Bool()),
                         cbc_name);

// ---------------------------------------------------------------------------------------------
// HMAC. RFC 2202 section 3 (HMAC-SHA-1, test cases 1-7), RFC 4231 section 4 (HMAC-SHA-256/384/512,
// test cases 1-7; SHA-224 is not an ESP integrity algorithm) and RFC 4868 section 2.7.2 (the
// authenticator vectors, keys as long as the hash output: AUTH256-1..4, AUTH384-1..4,
// AUTH512-1..4). The outputs below are the full published HMAC outputs except RFC 4231 test case
// 5, which publishes 128 bits only. A raw vector goes through CryptoOp with no cipher region
// (len = 0): esp = data, src = data + data_len, so the ICV is the HMAC of exactly the data,
// truncated to icv_bytes(); only the published prefix is compared. Keys longer than the block
// (RFC 2202 6-7, RFC 4231 6-7) are hashed by prepare_keys() as RFC 2104 2 says.
// ---------------------------------------------------------------------------------------------
struct HmacVector {
  std::string_view name;
  std::string_view source;
  Integrity integrity;
  std::string_view key;
  std::string_view data;
  std::string_view mac;
};

constexpr auto kSha1 = Integrity::kHmacSha1_96;
constexpr auto kSha256 = Integrity::kHmacSha256_128;
constexpr auto kSha384 = Integrity::kHmacSha384_192;
constexpr auto kSha512 = Integrity::kHmacSha512_256;

// RFC 4231 section 4's data fields (test cases 1-7), in its hex.
constexpr std::string_view kRfc4231Data1 = "4869205468657265";
constexpr std::string_view kRfc4231Data2 =
    "7768617420646f2079612077616e7420"
    "666f72206e6f7468696e673f";
constexpr std::string_view kRfc4231Data3 = "dd*50";
constexpr std::string_view kRfc4231Data4 = "cd*50";
constexpr std::string_view kRfc4231Data5 =
    "546573742057697468205472756e6361"
    "74696f6e";
constexpr std::string_view kRfc4231Data6 =
    "54657374205573696e67204c61726765"
    "72205468616e20426c6f636b2d53697a"
    "65204b6579202d2048617368204b6579"
    "204669727374";
constexpr std::string_view kRfc4231Data7 =
    "54686973206973206120746573742075"
    "73696e672061206c6172676572207468"
    "616e20626c6f636b2d73697a65206b65"
    "7920616e642061206c61726765722074"
    "68616e20626c6f636b2d73697a652064"
    "6174612e20546865206b6579206e6565"
    "647320746f2062652068617368656420"
    "6265666f7265206265696e6720757365"
    "642062792074686520484d414320616c"
    "676f726974686d2e";

const HmacVector kHmacVectors[] = {
    // RFC 2202 section 3. Test case 5 also publishes digest-96 = 4c1a03424b55e07fe7f27be1, the
    // prefix HMAC-SHA1-96 (RFC 2404) keeps.
    {"rfc2202_sha1_case1", "RFC 2202 section 3, test_case 1", kSha1, "0b*20", "ascii:Hi There",
     "b617318655057264e28bc0b6fb378c8ef146be00"},
    {"rfc2202_sha1_case2", "RFC 2202 section 3, test_case 2", kSha1, "ascii:Jefe",
     "ascii:what do ya want for nothing?", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
    {"rfc2202_sha1_case3", "RFC 2202 section 3, test_case 3", kSha1, "aa*20", "dd*50",
     "125d7342b9ac11cd91a39af48aa17b4f63f175d3"},
    {"rfc2202_sha1_case4", "RFC 2202 section 3, test_case 4", kSha1,
     "0102030405060708090a0b0c0d0e0f10111213141516171819", "cd*50",
     "4c9007f4026250c6bc8414f9bf50c86c2d7235da"},
    {"rfc2202_sha1_case5_truncation", "RFC 2202 section 3, test_case 5", kSha1, "0c*20",
     "ascii:Test With Truncation", "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04"},
    {"rfc2202_sha1_case6_long_key", "RFC 2202 section 3, test_case 6", kSha1, "aa*80",
     "ascii:Test Using Larger Than Block-Size Key - Hash Key First",
     "aa4ae5e15272d00e95705637ce8a3b55ed402112"},
    {"rfc2202_sha1_case7_long_key", "RFC 2202 section 3, test_case 7", kSha1, "aa*80",
     "ascii:Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data",
     "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"},

    // RFC 4231 section 4.2 to 4.8.
    {"rfc4231_sha256_case1", "RFC 4231 section 4.2, Test Case 1", kSha256, "0b*20", kRfc4231Data1,
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    {"rfc4231_sha384_case1", "RFC 4231 section 4.2, Test Case 1", kSha384, "0b*20", kRfc4231Data1,
     "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
     "faea9ea9076ede7f4af152e8b2fa9cb6"},
    {"rfc4231_sha512_case1", "RFC 4231 section 4.2, Test Case 1", kSha512, "0b*20", kRfc4231Data1,
     "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
     "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
    {"rfc4231_sha256_case2", "RFC 4231 section 4.3, Test Case 2", kSha256, "4a656665",
     kRfc4231Data2, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {"rfc4231_sha384_case2", "RFC 4231 section 4.3, Test Case 2", kSha384, "4a656665",
     kRfc4231Data2,
     "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
     "8e2240ca5e69e2c78b3239ecfab21649"},
    {"rfc4231_sha512_case2", "RFC 4231 section 4.3, Test Case 2", kSha512, "4a656665",
     kRfc4231Data2,
     "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
     "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
    {"rfc4231_sha256_case3", "RFC 4231 section 4.4, Test Case 3", kSha256, "aa*20", kRfc4231Data3,
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
    {"rfc4231_sha384_case3", "RFC 4231 section 4.4, Test Case 3", kSha384, "aa*20", kRfc4231Data3,
     "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b"
     "2a5ab39dc13814b94e3ab6e101a34f27"},
    {"rfc4231_sha512_case3", "RFC 4231 section 4.4, Test Case 3", kSha512, "aa*20", kRfc4231Data3,
     "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39"
     "bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb"},
    {"rfc4231_sha256_case4", "RFC 4231 section 4.5, Test Case 4", kSha256,
     "0102030405060708090a0b0c0d0e0f10111213141516171819", kRfc4231Data4,
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
    {"rfc4231_sha384_case4", "RFC 4231 section 4.5, Test Case 4", kSha384,
     "0102030405060708090a0b0c0d0e0f10111213141516171819", kRfc4231Data4,
     "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e"
     "6801dd23c4a7d679ccf8a386c674cffb"},
    {"rfc4231_sha512_case4", "RFC 4231 section 4.5, Test Case 4", kSha512,
     "0102030405060708090a0b0c0d0e0f10111213141516171819", kRfc4231Data4,
     "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db"
     "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd"},
    {"rfc4231_sha256_case5_truncation", "RFC 4231 section 4.6, Test Case 5", kSha256, "0c*20",
     kRfc4231Data5, "a3b6167473100ee06e0c796c2955552b"},
    {"rfc4231_sha384_case5_truncation", "RFC 4231 section 4.6, Test Case 5", kSha384, "0c*20",
     kRfc4231Data5, "3abf34c3503b2a23a46efc619baef897"},
    {"rfc4231_sha512_case5_truncation", "RFC 4231 section 4.6, Test Case 5", kSha512, "0c*20",
     kRfc4231Data5, "415fad6271580a531d4179bc891d87a6"},
    {"rfc4231_sha256_case6_long_key", "RFC 4231 section 4.7, Test Case 6", kSha256, "aa*131",
     kRfc4231Data6, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    {"rfc4231_sha384_case6_long_key", "RFC 4231 section 4.7, Test Case 6", kSha384, "aa*131",
     kRfc4231Data6,
     "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6"
     "0c2ef6ab4030fe8296248df163f44952"},
    {"rfc4231_sha512_case6_long_key", "RFC 4231 section 4.7, Test Case 6", kSha512, "aa*131",
     kRfc4231Data6,
     "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
     "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"},
    {"rfc4231_sha256_case7_long_key", "RFC 4231 section 4.8, Test Case 7", kSha256, "aa*131",
     kRfc4231Data7, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    {"rfc4231_sha384_case7_long_key", "RFC 4231 section 4.8, Test Case 7", kSha384, "aa*131",
     kRfc4231Data7,
     "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5"
     "a678cc31e799176d3860e6110c46523e"},
    {"rfc4231_sha512_case7_long_key", "RFC 4231 section 4.8, Test Case 7", kSha512, "aa*131",
     kRfc4231Data7,
     "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944"
     "b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58"},

    // RFC 4868 section 2.7.2.1 (HMAC-SHA-256-128), 2.7.2.2 (-384-192), 2.7.2.3 (-512-256).
    {"rfc4868_auth256_1", "RFC 4868 section 2.7.2.1, Test Case AUTH256-1", kSha256, "0b*32",
     "ascii:Hi There", "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7"},
    {"rfc4868_auth256_2", "RFC 4868 section 2.7.2.1, Test Case AUTH256-2", kSha256,
     "4a656665 4a656665 4a656665 4a656665 4a656665 4a656665 4a656665 4a656665",
     "ascii:what do ya want for nothing?",
     "167f928588c5cc2eef8e3093caa0e87c9ff566a14794aa61648d81621a2a40c6"},
    {"rfc4868_auth256_3", "RFC 4868 section 2.7.2.1, Test Case AUTH256-3", kSha256, "aa*32",
     "dd*50", "cdcb1220d1ecccea91e53aba3092f962e549fe6ce9ed7fdc43191fbde45c30b0"},
    {"rfc4868_auth256_4", "RFC 4868 section 2.7.2.1, Test Case AUTH256-4", kSha256,
     "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20", "cd*50",
     "372efcf9b40b35c2115b1346903d2ef42fced46f0846e7257bb156d3d7b30d3f"},
    {"rfc4868_auth384_1", "RFC 4868 section 2.7.2.2, Test Case AUTH384-1", kSha384, "0b*48",
     "ascii:Hi There",
     "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee9737a959796489bddbc"
     "4c5df61d5b3297b4fb68dab9f1b582c2"},
    {"rfc4868_auth384_2", "RFC 4868 section 2.7.2.2, Test Case AUTH384-2", kSha384,
     "4a656665 4a656665 4a656665 4a656665 4a656665 4a656665"
     " 4a656665 4a656665 4a656665 4a656665 4a656665 4a656665",
     "ascii:what do ya want for nothing?",
     "2c7353974f1842fd66d53c452ca42122b28c0b594cfb184da86a368e9b8e16f5"
     "349524ca4e82400cbde0686d403371c9"},
    {"rfc4868_auth384_3", "RFC 4868 section 2.7.2.2, Test Case AUTH384-3", kSha384, "aa*48",
     "dd*50",
     "809f439be00274321d4a538652164b53554a508184a0c3160353e3428597003d"
     "35914a18770f9443987054944b7c4b4a"},
    {"rfc4868_auth384_4", "RFC 4868 section 2.7.2.2, Test Case AUTH384-4", kSha384,
     "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
     "0a0b0c0d0e0f10111213141516171819",
     "cd*50",
     "5b540085c6e6358096532b2493609ed1cb298f774f87bb5c2ebf182c83cc7428"
     "707fb92eab2536a5812258228bc96687"},
    {"rfc4868_auth512_1", "RFC 4868 section 2.7.2.3, Test Case AUTH512-1", kSha512, "0b*64",
     "ascii:Hi There",
     "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8"
     "ac2878ebd5803f6f0b61dbce5e251ff8789a4722c1be65aea45fd464e89f8f5b"},
    {"rfc4868_auth512_2", "RFC 4868 section 2.7.2.3, Test Case AUTH512-2", kSha512,
     "4a656665 4a656665 4a656665 4a656665 4a656665 4a656665 4a656665 4a656665"
     " 4a656665 4a656665 4a656665 4a656665 4a656665 4a656665 4a656665 4a656665",
     "ascii:what do ya want for nothing?",
     "cb370917ae8a7ce28cfd1d8f4705d6141c173b2a9362c15df235dfb251b15454"
     "6aa334ae9fb9afc2184932d8695e397bfa0ffb93466cfcceaae38c833b7dba38"},
    {"rfc4868_auth512_3", "RFC 4868 section 2.7.2.3, Test Case AUTH512-3", kSha512, "aa*64",
     "dd*50",
     "2ee7acd783624ca9398710f3ee05ae41b9f9b0510c87e49e586cc9bf961733d8"
     "623c7b55cebefccf02d5581acc1c9d5fb1ff68a1de45509fbe4da9a433922655"},
    {"rfc4868_auth512_4", "RFC 4868 section 2.7.2.3, Test Case AUTH512-4", kSha512,
     "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
     "2122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40",
     "cd*50",
     "5e6688e5a3daec826ca32eaea224eff5e700628947470e13ad01302561bab108"
     "b8c48cbc6b807dcfbd850521a685babc7eae4a2a2e660dc0e86b931d65503fd2"},
};

class HmacKat : public testing::TestWithParam<std::tuple<BackendKind, size_t>> {
 protected:
  BackendKind kind() const { return std::get<0>(GetParam()); }
  const HmacVector& vec() const { return kHmacVectors[std::get<1>(GetParam())]; }
};

// The raw-HMAC op: no cipher region, the ICV right after the data.
CryptoOp hmac_op(const crypto::SaKeys& keys, Bytes& buf, uint32_t data_len, const uint8_t* iv) {
  uint8_t* d = buf.data();
  return CryptoOp{&keys, d, iv, d + data_len, d + data_len, 0, d + data_len, 0, false, false};
}

TEST_P(HmacKat, IcvIsThePublishedMacPrefix) {
  const HmacVector& v = vec();
  SCOPED_TRACE(std::string(v.source));
  const Bytes key = bytes_of(v.key), data = bytes_of(v.data), mac = bytes_of(v.mac);
  const Algorithm alg{Cipher::kAesCbc, 16, v.integrity};
  const Bytes cipher_key(16, 0x42);
  const uint8_t iv[16] = {};
  auto keys = crypto::prepare_keys(alg, cipher_key, {}, key);
  auto backend = crypto::make_backend(kind());
  const auto len = static_cast<uint32_t>(data.size());
  const size_t icv_len = alg.icv_bytes();
  const size_t compared = std::min(icv_len, mac.size());

  Bytes buf = cat({data, Bytes(icv_len, 0)});
  CryptoOp op = hmac_op(*keys, buf, len, iv);
  backend->encrypt({&op, 1});
  EXPECT_TRUE(op.ok);
  EXPECT_EQ(to_hex(slice(buf, len, compared)), to_hex(slice(mac, 0, compared)));
  EXPECT_EQ(slice(buf, 0, len), data) << "data changed";

  if (mac.size() < icv_len) return;  // RFC 4231 case 5 for SHA-384/512: too short to verify with
  buf = cat({data, slice(mac, 0, icv_len)});
  op = hmac_op(*keys, buf, len, iv);
  backend->decrypt({&op, 1});
  EXPECT_TRUE(op.ok);
  for (size_t byte : {size_t{0}, icv_len - 1}) {
    SCOPED_TRACE("ICV byte " + std::to_string(byte));
    buf = cat({data, slice(mac, 0, icv_len)});
    buf[len + byte] ^= 0x80;
    op = hmac_op(*keys, buf, len, iv);
    backend->decrypt({&op, 1});
    EXPECT_FALSE(op.ok);
  }
}

INSTANTIATE_TEST_SUITE_P(Rfc2202Rfc4231Rfc4868, HmacKat,
                         testing::Combine(testing::ValuesIn(kBackends),
                                          testing::Range(size_t{0}, std::size(kHmacVectors))),
                         [](const testing::TestParamInfo<std::tuple<BackendKind, size_t>>& p) {
                           return backend_label(std::get<0>(p.param)) + "_" +
                                  std::string(kHmacVectors[std::get<1>(p.param)].name);
                         });

// The notation itself, so that a vector cannot silently parse to the wrong bytes.
TEST(KatNotation, ParsesHexRepeatsAndAscii) {
  EXPECT_EQ(bytes_of("00 0a\nFf"), (Bytes{0x00, 0x0a, 0xff}));
  EXPECT_EQ(bytes_of("ab*3 01"), (Bytes{0xab, 0xab, 0xab, 0x01}));
  EXPECT_EQ(bytes_of("ascii:Hi There"), (Bytes{'H', 'i', ' ', 'T', 'h', 'e', 'r', 'e'}));
  EXPECT_EQ(bytes_of(""), Bytes{});
  EXPECT_THROW(bytes_of("abc"), std::invalid_argument);
  EXPECT_THROW(bytes_of("zz"), std::invalid_argument);
}

}  // namespace
}  // namespace espgw
