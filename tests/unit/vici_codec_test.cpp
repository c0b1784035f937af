// The VICI codec: messages and packets against strongSwan's README example, round trips, every
// kind of malformed input, nesting limits, framing.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "ike-bridge/vici/message.h"
#include "ike-bridge/vici/packet.h"

namespace espgw::vici {
namespace {

using Bytes = std::vector<uint8_t>;

std::string str(const Bytes& b) {
  return std::string(b.begin(), b.end());
}

// The encoding example of src/libcharon/plugins/vici/README.md ("Encoding example"), written
// out here byte by byte.
const Bytes kReadmeExample = {
    3, 4,  'k', 'e', 'y', '1', 0,   6,   'v', 'a', 'l', 'u', 'e', '1',            //
    1, 8,  's', 'e', 'c', 't', 'i', 'o', 'n', '1',                                //
    1, 11, 's', 'u', 'b', '-', 's', 'e', 'c', 't', 'i', 'o', 'n',                 //
    3, 4,  'k', 'e', 'y', '2', 0,   6,   'v', 'a', 'l', 'u', 'e', '2',            //
    2,                                                                            //
    4, 5,  'l', 'i', 's', 't', '1',                                               //
    5, 0,  5,   'i', 't', 'e', 'm', '1', 5,   0,   5,   'i', 't', 'e', 'm', '2',  //
    6,                                                                            //
    2,                                                                            //
};

Message readme_tree() {
  Message m;
  m.add("key1", "value1");
  Section& s1 = m.add_section("section1");
  s1.add_section("sub-section").add("key2", "value2");
  s1.add("list1", List{"item1", "item2"});
  return m;
}

TEST(ViciMessage, DecodesTheReadmeExample) {
  const Message m = decode(str(kReadmeExample));
  EXPECT_EQ(m, readme_tree());
  ASSERT_NE(m.find_value("key1"), nullptr);
  EXPECT_EQ(*m.find_value("key1"), "value1");
  const Section* s1 = m.find_section("section1");
  ASSERT_NE(s1, nullptr);
  EXPECT_EQ(s1->find_section("sub-section")->value_or("key2"), "value2");
  EXPECT_EQ(*s1->find_list("list1"), (List{"item1", "item2"}));
  // Lookups by the wrong kind find nothing.
  EXPECT_EQ(m.find_section("key1"), nullptr);
  EXPECT_EQ(s1->find_value("list1"), nullptr);
  EXPECT_EQ(m.value_or("nope", "fallback"), "fallback");
}

TEST(ViciMessage, EncodesTheReadmeExampleByteForByte) {
  EXPECT_EQ(encode(readme_tree()), str(kReadmeExample));
}

TEST(ViciMessage, RoundTripsEdgeCases) {
  Message m;
  m.add("empty-value", "");
  m.add("binary", std::string("\x00\x01\xff\x7f", 4));
  m.add("empty-list", List{});
  m.add("list-with-empty-item", List{"", "x"});
  m.add_section("empty-section");
  m.add(std::string(255, 'n'), "longest name");
  m.add("longest-value", std::string(65535, 'v'));
  Section* s = &m.add_section("deep");
  for (int i = 1; i < 32; ++i)
    s = &s->add_section("level" + std::to_string(i));
  s->add("bottom", "32 levels");
  const std::string bytes = encode(m);
  EXPECT_EQ(decode(bytes), m);
  EXPECT_EQ(encode(decode(bytes)), bytes);
  EXPECT_TRUE(decode(std::string_view{}).empty());
}

TEST(ViciMessage, KeepsDuplicateKeysAndFindsTheFirst) {
  const Bytes b = {3, 1, 'k', 0, 1, 'a', 3, 1, 'k', 0, 1, 'b'};
  const Message m = decode(str(b));
  EXPECT_EQ(m.entries().size(), 2u);
  EXPECT_EQ(m.value_or("k"), "a");
}

TEST(ViciMessage, RefusesToEncodeWhatTheFormatCannotCarry) {
  EXPECT_THROW(encode(Message().add("", "v")), EncodeError);
  EXPECT_THROW(encode(Message().add(std::string(256, 'n'), "v")), EncodeError);
  EXPECT_THROW(encode(Message().add("k", std::string(65536, 'v'))), EncodeError);
  EXPECT_THROW(encode(Message().add("l", List{std::string(65536, 'v')})), EncodeError);
  Message deep;
  Section* s = &deep;
  for (size_t i = 0; i <= kMaxDepth; ++i)
    s = &s->add_section("s");
  try {
    encode(deep);
    FAIL() << "33 levels encoded";
  } catch (const EncodeError& e) {
    EXPECT_NE(std::string(e.what()).find("nested deeper than 32"), std::string::npos) << e.what();
  }
}

std::string decode_error(const Bytes& b) {
  try {
    decode(str(b));
  } catch (const DecodeError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ViciMessage, NamesWhatIsWrongWithMalformedInput) {
  EXPECT_EQ(decode_error({9}), "byte 0: unknown element type 9");
  EXPECT_EQ(decode_error({0}), "byte 0: unknown element type 0");
  EXPECT_EQ(decode_error({2}), "byte 0: SECTION_END without an open section");
  EXPECT_EQ(decode_error({5, 0, 0}), "byte 0: LIST_ITEM outside a list");
  EXPECT_EQ(decode_error({6}), "byte 0: LIST_END without an open list");
  EXPECT_EQ(decode_error({3, 0}), "byte 0: empty name");
  EXPECT_EQ(decode_error({3}), "byte 0: name length missing (message ends)");
  EXPECT_EQ(decode_error({3, 5, 'a', 'b'}), "byte 0: name of 5 bytes runs past the end (2 left)");
  EXPECT_EQ(decode_error({3, 1, 'k', 0}), "byte 0: value length missing (message ends)");
  EXPECT_EQ(decode_error({3, 1, 'k', 0xff, 0xff, 'v'}),
            "byte 0: value of 65535 bytes runs past the end (1 left)");
  EXPECT_EQ(decode_error({1, 1, 's'}),
            "byte 0: section not closed at the end of the message (1 open)");
  EXPECT_EQ(decode_error({4, 1, 'l', 5, 0, 0}),
            "byte 0: list not closed at the end of the message");
  // Lists hold items only: no key/values, sections or nested lists.
  EXPECT_EQ(decode_error({4, 1, 'l', 3, 1, 'k', 0, 0, 6}),
            "byte 3: KEY_VALUE (type 3) inside a list; only LIST_ITEM and LIST_END may follow "
            "LIST_START");
  EXPECT_EQ(decode_error({4, 1, 'l', 4, 1, 'm', 6, 6}),
            "byte 3: LIST_START (type 4) inside a list; only LIST_ITEM and LIST_END may follow "
            "LIST_START");
  EXPECT_EQ(decode_error({4, 1, 'l', 1, 1, 's', 2, 6}),
            "byte 3: SECTION_START (type 1) inside a list; only LIST_ITEM and LIST_END may follow "
            "LIST_START");
  EXPECT_EQ(decode_error({1, 1, 's', 4, 1, 'l', 2}),
            "byte 6: SECTION_END (type 2) inside a list; only LIST_ITEM and LIST_END may follow "
            "LIST_START");
}

TEST(ViciMessage, LimitsNestingWhenDecoding) {
  auto nested = [](size_t levels) {
    Bytes b;
    for (size_t i = 0; i < levels; ++i)
      b.insert(b.end(), {1, 1, 's'});
    for (size_t i = 0; i < levels; ++i)
      b.push_back(2);
    return b;
  };
  EXPECT_NO_THROW(decode(str(nested(kMaxDepth))));
  EXPECT_EQ(decode_error(nested(kMaxDepth + 1)), "byte 96: sections nested deeper than 32 levels");
  // A message of nothing but SECTION_STARTs (what a fuzzer finds first) stops at the limit.
  EXPECT_THROW(decode(str(Bytes(300000, 1))), DecodeError);
}

TEST(ViciMessage, EveryTruncationIsAnErrorOrAShorterValidMessage) {
  const std::string full = encode(readme_tree());
  // Prefixes that end on an element boundary at the top level are valid messages themselves.
  const std::vector<size_t> top_level_boundaries = {0, 14};
  for (size_t n = 0; n < full.size(); ++n) {
    const std::string_view cut(full.data(), n);
    const bool valid = std::find(top_level_boundaries.begin(), top_level_boundaries.end(), n) !=
                       top_level_boundaries.end();
    if (valid) {
      EXPECT_NO_THROW(decode(cut)) << n;
    } else {
      EXPECT_THROW(decode(cut), DecodeError) << "prefix of " << n << " bytes";
    }
  }
}

TEST(ViciMessage, TextDumpHidesWhatItIsToldTo) {
  Message m;
  m.add("type", "IKE");
  m.add("data", "secret");
  m.add("owners", List{"a", "b"});
  m.add_section("s").add("raw", std::string("\x01\x02", 2));
  const std::string_view hide[] = {"data"};
  EXPECT_EQ(to_text(m, hide),
            "type = IKE\n"
            "data = (not shown)\n"
            "owners = [a, b]\n"
            "s {\n"
            "  raw = 0x0102\n"
            "}\n");
}

// ---- packets -------------------------------------------------------------------------------

Packet round_trip(const Packet& p) {
  const std::string seg = encode_packet(p);
  const auto packets =
      decode_stream(std::span(reinterpret_cast<const uint8_t*>(seg.data()), seg.size()));
  EXPECT_EQ(packets.size(), 1u);
  return packets.at(0);
}

TEST(ViciPacket, RoundTripsEveryType) {
  const Packet packets[] = {
      {PacketType::kCmdRequest, "list-sas", Message().add("noblock", "yes")},
      {PacketType::kCmdResponse, "", Message().add("success", "yes")},
      {PacketType::kCmdUnknown, "", {}},
      {PacketType::kEventRegister, "ike-updown", {}},
      {PacketType::kEventUnregister, "ike-updown", {}},
      {PacketType::kEventConfirm, "", {}},
      {PacketType::kEventUnknown, "", {}},
      {PacketType::kEvent, "list-sa", readme_tree()},
      {PacketType::kCmdRequest, "version", {}},
  };
  for (const auto& p : packets) {
    EXPECT_EQ(round_trip(p), p) << packet_type_name(p.type);
  }
}

TEST(ViciPacket, EncodesTheHeaderAsTheReadmeSays) {
  const std::string seg = encode_packet({PacketType::kCmdRequest, "version", {}});
  EXPECT_EQ(seg, std::string("\x00\x00\x00\x09\x00\x07version", 13));
  const std::string confirm = encode_packet({PacketType::kEventConfirm, "", {}});
  EXPECT_EQ(confirm, std::string("\x00\x00\x00\x01\x05", 5));
}

TEST(ViciPacket, RefusesToEncodeInvalidPackets) {
  EXPECT_THROW(encode_packet({PacketType::kCmdRequest, "", {}}), EncodeError);
  EXPECT_THROW(encode_packet({PacketType::kEvent, std::string(256, 'e'), {}}), EncodeError);
  EXPECT_THROW(encode_packet({PacketType::kCmdResponse, "named", {}}), EncodeError);
  EXPECT_THROW(encode_packet({PacketType::kEventRegister, "e", Message().add("k", "v")}),
               EncodeError);
  Message big;
  for (char k = 'a'; k < 'j'; ++k)
    big.add(std::string(1, k), std::string(60000, 'x'));
  EXPECT_THROW(encode_packet({PacketType::kCmdRequest, "load-conn", big}), EncodeError);
}

std::string packet_error(const Bytes& payload) {
  try {
    decode_packet(payload);
  } catch (const DecodeError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ViciPacket, NamesWhatIsWrongWithMalformedPackets) {
  EXPECT_EQ(packet_error({}), "empty packet (no type byte)");
  EXPECT_EQ(packet_error({8}), "unknown packet type 8");
  EXPECT_EQ(packet_error({0}), "CMD_REQUEST: name length missing");
  EXPECT_EQ(packet_error({7, 0}), "EVENT: empty name");
  EXPECT_EQ(packet_error({3, 4, 'a'}),
            "EVENT_REGISTER: name of 4 bytes runs past the end (1 left)");
  EXPECT_EQ(packet_error({5, 0}), "EVENT_CONFIRM: 1 unexpected bytes after the packet");
  EXPECT_EQ(packet_error({4, 1, 'e', 3}), "EVENT_UNREGISTER: 1 unexpected bytes after the packet");
  // Offsets in the message count from the start of the packet.
  EXPECT_EQ(packet_error({7, 1, 'e', 3, 1, 'k', 0, 9}),
            "EVENT \"e\": byte 3: value of 9 bytes runs past the end (0 left)");
  EXPECT_EQ(packet_error({1, 2}), "CMD_RESPONSE: byte 1: SECTION_END without an open section");
}

TEST(ViciFrames, ReassemblesSegmentsFedByteByByte) {
  std::string stream;
  stream += encode_packet({PacketType::kEvent, "list-sa", readme_tree()});
  stream += encode_packet({PacketType::kCmdResponse, "", {}});
  FrameReader r;
  std::vector<std::string> segments;
  for (char c : stream) {
    r.feed(std::string_view(&c, 1));
    while (auto s = r.next())
      segments.push_back(*s);
  }
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_EQ(r.buffered(), 0u);
  EXPECT_EQ(segments[1], std::string("\x01", 1));
}

TEST(ViciFrames, RefusesOversizedAndEmptySegmentsBeforeBufferingThem) {
  FrameReader r;
  r.feed(std::string("\x00\x08\x00\x01", 4));  // 512 KiB + 1
  try {
    r.next();
    FAIL();
  } catch (const DecodeError& e) {
    EXPECT_STREQ(e.what(), "segment of 524289 bytes announced, over the 512 KiB limit");
  }
  FrameReader z;
  z.feed(std::string("\x00\x00\x00\x00", 4));
  EXPECT_THROW(z.next(), DecodeError);
  FrameReader ok;
  ok.feed(std::string("\x00\x08\x00\x00", 4));  // exactly 512 KiB: waits for it
  EXPECT_FALSE(ok.next().has_value());
}

TEST(ViciFrames, AStreamEndingInsideASegmentIsAnError) {
  const std::string seg = encode_packet({PacketType::kCmdRequest, "version", {}});
  for (size_t n = 1; n < seg.size(); ++n) {
    EXPECT_THROW(decode_stream(std::span(reinterpret_cast<const uint8_t*>(seg.data()), n)),
                 DecodeError)
        << n;
  }
}

// Mutated packets (random bytes changed, inserted, removed): every one decodes or is refused
// with a DecodeError; what decodes encodes back to something that decodes to the same tree.
TEST(ViciFrames, MutatedInputNeverCrashes) {
  std::mt19937 rng(20240521);
  const std::string seeds[] = {
      encode_packet({PacketType::kEvent, "list-sa", readme_tree()}),
      encode_packet({PacketType::kCmdRequest, "load-conn", readme_tree()}),
      encode_packet({PacketType::kEventConfirm, "", {}}),
  };
  size_t decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s = seeds[i % 3];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % (s.size() + 1);
      switch (rng() % 3) {
        case 0:
          if (at < s.size()) s[at] = static_cast<char>(rng());
          break;
        case 1: s.insert(at, 1, static_cast<char>(rng() % 8)); break;
        case 2:
          if (at < s.size()) s.erase(at, 1);
          break;
      }
    }
    try {
      const auto packets =
          decode_stream(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
      ++decoded;
      for (const auto& p : packets)
        EXPECT_EQ(decode(encode(p.message)), p.message);
    } catch (const DecodeError&) {
    }
  }
  EXPECT_GT(decoded, 0u);
}

}  // namespace
}  // namespace espgw::vici
