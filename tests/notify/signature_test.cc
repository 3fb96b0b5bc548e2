// The notification signature: HMAC-SHA256 as specified (RFC 4231's vectors), and its check.
#include <catch2/catch.hpp>
#include <cctype>
#include <string>

#include "host/notification_signature.h"

namespace sluice::host {
namespace {

TEST_CASE("the signature is sha256= and the lowercase hex HMAC-SHA256 of the body",
          "[notify][signature]") {
  // RFC 4231, test case 2.
  CHECK(SignNotification("Jefe", "what do ya want for nothing?") ==
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // RFC 4231, test case 1: a binary key of twenty 0x0b bytes.
  CHECK(SignNotification(std::string(20, '\x0b'), "Hi There") ==
        "sha256=b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST_CASE("a signature verifies only with the same secret and body", "[notify][signature]") {
  const std::string body = R"({"Type":"Notification","Message":"hi"})";
  const std::string signature = SignNotification("secret", body);
  CHECK(VerifyNotificationSignature("secret", body, signature));
  CHECK_FALSE(VerifyNotificationSignature("Secret", body, signature));
  CHECK_FALSE(VerifyNotificationSignature("secret", body + "\n", signature));
  CHECK_FALSE(VerifyNotificationSignature("secret", body, signature.substr(7)));
  CHECK_FALSE(VerifyNotificationSignature("secret", body, ""));
  std::string upper = signature;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  CHECK_FALSE(VerifyNotificationSignature("secret", body, upper));
}

}  // namespace
}  // namespace sluice::host
