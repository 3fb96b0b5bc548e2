// The SDK keeps the protocol's string fields valid UTF-8: a ProcessingFailed reason with stray
// bytes (a sensor glitch quoted in it) would otherwise make the host refuse the whole response.
#include <catch2/catch.hpp>
#include <string>

#include "sluice/function.h"
#include "utf8.h"

using sluice::internal::ValidUtf8;

TEST_CASE("ValidUtf8 keeps valid text and replaces each stray byte with U+FFFD") {
  CHECK(ValidUtf8("plain ASCII") == "plain ASCII");
  CHECK(ValidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x9A\x97") ==
        "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x9A\x97");
  CHECK(ValidUtf8("TAG-\xFF") == "TAG-\xEF\xBF\xBD");
  CHECK(ValidUtf8("\xC3") == "\xEF\xBF\xBD");                                  // truncated
  CHECK(ValidUtf8("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  CHECK(ValidUtf8("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  CHECK(ValidUtf8("\xF4\x90\x80\x80").size() == 12);                           // above U+10FFFF
}

TEST_CASE("a ProcessingFailed reason with stray bytes still makes a response the host can parse") {
  sluice::TransformResponse response;
  response.ProcessingFailed("r1", "raw", "field 6 (tag): not printable: TAG-\xFF");
  std::string wire;
  REQUIRE(response.proto().SerializeToString(&wire));
  sluice::runtime::v1::FirehoseTransformResponse parsed;
  REQUIRE(parsed.ParseFromString(wire));
  CHECK(parsed.records(0).error_message() == "field 6 (tag): not printable: TAG-\xEF\xBF\xBD");
}
