// A tiny HTTP/1.1 client over raw sockets for tests of the Kinesis API (AWS JSON 1.1), so tests
// control every byte they send:
// - HttpConnection: one keep-alive TCP connection to 127.0.0.1; sends raw request bytes and
//   reads one response (Content-Length or chunked).
// - KinesisClient: JSON 1.1 calls (POST /, X-Amz-Target Kinesis_20131202.<Op>) on one
//   keep-alive connection.
// Nothing here retries a request: a call whose connection breaks reports the failure, so a test
// knows which writes are in doubt.
//
// Thread-safety: none; use one object per thread. Uses no Catch2 macros (safe in test threads).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::testing {

struct HttpReply {
  int status = 0;     // 0: no response (see error)
  std::string error;  // why there is no (complete) response
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The value of a response header (case-insensitive name), or "" if absent.
  std::string Header(std::string_view name) const;
  // The body as JSON; a discarded value if it is not JSON.
  nlohmann::json Json() const;
  // An error's "__type" (after any '#'), and its "message" (or "Message"); "" when absent.
  std::string ErrorType() const;
  std::string Message() const;
  // "HTTP 400 {...}" or the transport error, for test messages.
  std::string Describe() const;
};

class HttpConnection {
 public:
  // Connects to 127.0.0.1:port; connected() says whether it worked. Every send and receive
  // gives up after timeout_ms.
  explicit HttpConnection(uint16_t port, int timeout_ms = 30000);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  // Writes all of `bytes`; false if the connection failed (it is then closed).
  bool Send(std::string_view bytes);
  // Reads one complete response.
  HttpReply Receive();
  // Send() then Receive().
  HttpReply RoundTrip(std::string_view request_bytes);
  // True if the peer has closed the connection (checked without blocking).
  bool PeerClosed();
  void Close();

 private:
  bool Fill(std::string* error);  // reads more into buffer_
  int fd_ = -1;
  int timeout_ms_;
  std::string buffer_;  // received, not yet consumed
};

// The bytes of a POST / request with the given headers (Host and Content-Length are added).
std::string HttpRequestBytes(const std::vector<std::pair<std::string, std::string>>& headers,
                             std::string_view body, std::string_view method = "POST");
// A well-formed Kinesis JSON 1.1 request for `operation` with `body`.
std::string KinesisRequestBytes(std::string_view operation, std::string_view body);

class KinesisClient {
 public:
  explicit KinesisClient(uint16_t port, int timeout_ms = 30000);

  // One call on the keep-alive connection (opened again first if it was closed).
  HttpReply Call(std::string_view operation, const nlohmann::json& body);
  HttpReply CallRaw(std::string_view operation, std::string_view body);
  // Call() that must succeed: the JSON body of the 200 response ({} when empty). Throws
  // std::runtime_error describing the reply otherwise.
  nlohmann::json Ok(std::string_view operation, const nlohmann::json& body);

  HttpConnection& connection() { return *connection_; }

 private:
  uint16_t port_;
  int timeout_ms_;
  std::unique_ptr<HttpConnection> connection_;
};

// One record read back with GetRecords.
struct ReadRecord {
  std::string sequence_number;
  std::string partition_key;
  std::string data;  // decoded bytes
  double arrival_seconds = 0;
};

// Reads a shard from TRIM_HORIZON until GetRecords returns no records (the caller makes sure
// nothing is being written) or the shard ends. Throws std::runtime_error on any failure.
std::vector<ReadRecord> ReadWholeShard(KinesisClient& client, const std::string& stream,
                                       const std::string& shard_id);

// A decimal string as an unsigned 128-bit integer (sequence numbers, hash keys); throws
// std::runtime_error if it is not canonical decimal below 2^128.
unsigned __int128 ParseU128(std::string_view decimal);
std::string U128ToString(unsigned __int128 value);

}  // namespace sluice::testing
