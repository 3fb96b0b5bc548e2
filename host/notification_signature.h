// The signature on a notification delivered over HTTP, so that a receiver can check that the
// body came from this host and was not altered:
//
//   X-Sluice-Signature: sha256=<64 lowercase hex digits of HMAC-SHA256(secret, body)>
//
// computed over the exact bytes of the request body, with the subscription's secret as the key.
// No header is sent when the subscription has no secret. Receivers verify with the same
// definition (VerifyNotificationSignature here, or any HMAC-SHA256 and a constant-time compare).
//
// Thread-safety: free functions, safe from any thread.
#pragma once

#include <string>
#include <string_view>

namespace sluice::host {

inline constexpr char kSignatureHeader[] = "X-Sluice-Signature";

// The header's value for `body` signed with `secret`: "sha256=" + lowercase hex HMAC-SHA256.
std::string SignNotification(std::string_view secret, std::string_view body);

// Whether `header_value` is exactly SignNotification(secret, body), compared in constant time.
bool VerifyNotificationSignature(std::string_view secret, std::string_view body,
                                 std::string_view header_value);

}  // namespace sluice::host
