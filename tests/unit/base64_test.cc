#include "sluice/base64.h"

#include <catch2/catch.hpp>

using sluice::Base64Decode;
using sluice::Base64Encode;

TEST_CASE("base64 matches RFC 4648 test vectors", "[base64]") {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    CHECK(Base64Encode(plain) == encoded);
    std::string decoded;
    REQUIRE(Base64Decode(encoded, &decoded));
    CHECK(decoded == plain);
  }
}

TEST_CASE("base64 round-trips every byte value", "[base64]") {
  std::string all;
  for (int i = 0; i < 256; ++i) {
    all.push_back(static_cast<char>(i));
  }
  std::string back;
  REQUIRE(Base64Decode(Base64Encode(all), &back));
  CHECK(back == all);
}

TEST_CASE("base64 refuses malformed text", "[base64]") {
  std::string out;
  CHECK_FALSE(Base64Decode("Zm9", &out));       // length not a multiple of 4
  CHECK_FALSE(Base64Decode("Zm9v!A==", &out));  // outside the alphabet
  CHECK_FALSE(Base64Decode("Zg==Zm9v", &out));  // padding in the middle
  CHECK_FALSE(Base64Decode("Z===", &out));      // too much padding
}
