// common/redact.h: the one rule for what a message may repeat. Keys and pre-shared keys in the
// shapes people write them are never shown; names, numbers, addresses, paths and proposals are.

#include "common/redact.h"

#include <gtest/gtest.h>

namespace espgw {
namespace {

TEST(Redact, KeysAreNotShown) {
  for (const char* s : {"0x8f14e45fceea167a5a36dedd4bea2543", "8f14e45fceea167a5a36dedd4bea2543",
                        "8f:14:e4:5f:ce:ea:16:7a", "0X0123456789012345"}) {
    EXPECT_TRUE(looks_like_key(s)) << s;
    EXPECT_EQ(quote(s), kNotShown) << s;
    EXPECT_EQ(bare(s), kNotShown) << s;
  }
}

// A key after a prefix, in a path or between words (control_fuzz found "sa-a" and a key as a
// command's name quoted back).
TEST(Redact, KeysInsideAWordAreNotShown) {
  for (const char* s :
       {"sa-aa5ac3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3", "/tmp/8f14e45fceea167a5a36dedd4bea2543.yaml",
        "tunnel_0x8f14e45fceea167a5a36dedd4bea2543_x"}) {
    EXPECT_TRUE(looks_like_key(s)) << s;
    EXPECT_EQ(quote(s), kNotShown) << s;
  }
  // Shorter hex runs are names' and ids' (an AWS VPN connection id), and a long decimal number is
  // a number.
  for (const char* s : {"vpn-0123456789abcdef0", "tunnel-8f14e45fceea167a5a36dedd4bea254",
                        "id-123456789012345678901234567890123456",
                        "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    EXPECT_FALSE(looks_like_key(s)) << s;
  }
}

TEST(Redact, PreSharedKeysAreNotShown) {
  // AWS-style (letters, digits, '.', '_'), base64 (strongSwan's 0s form), a password.
  for (const char* s : {"Qm7_Vx2.Lr9pZt4wKs", "tR2mQx_8pL.kZ3wY",
                        "0sTWFyeS5oYWQuYS5saXR0bGU=", "MyPassw0rd", "xK9#mP2$qL"}) {
    EXPECT_TRUE(looks_like_key(s)) << s;
    EXPECT_EQ(quote(s), kNotShown) << s;
  }
}

TEST(Redact, EverythingElseIsShown) {
  for (const char* s :
       {"aws-tunnel1", "AES128-sha256", "aes128gcm16-modp2048", "1400", "12345678901234567890",
        "172.31.1.10", "2001:db8::1", "10.0.0.0/16", "/etc/espgw/Gw1-Secrets2.yaml",
        "./Site2Site.yaml", "eth1", "net_pcap0", "FAKE_psk_tunnel1.not.a.real.key", "Tunnel1",
        "short7A", "two Words9Ab", "deadbeef"}) {
    EXPECT_FALSE(looks_like_key(s)) << s;
    EXPECT_EQ(bare(s), s);
  }
  EXPECT_EQ(quote("aws-tunnel1"), "\"aws-tunnel1\"");
  EXPECT_EQ(quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\x0a\"");
}

// A key pasted as an option (espgwctl's and the importers' unknown options): without its dashes,
// and after '='.
TEST(Redact, Options) {
  for (const char* s : {"--0x8f14e45fceea167a5a36dedd4bea2543", "-Qm7_Vx2.Lr9pZt4wKs",
                        "--psk=Qm7_Vx2.Lr9pZt4wKs", "--key=0x8f14e45fceea167a5a36dedd4bea2543"}) {
    EXPECT_TRUE(option_looks_like_key(s)) << s;
    EXPECT_EQ(quote_option(s), kNotShown) << s;
  }
  EXPECT_FALSE(option_looks_like_key("--wan-address=172.31.1.10/24"));
  EXPECT_EQ(quote_option("--frobnicate"), "\"--frobnicate\"");
}

}  // namespace
}  // namespace espgw
