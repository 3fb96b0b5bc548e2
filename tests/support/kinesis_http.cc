#include "tests/support/kinesis_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "sluice/base64.h"

namespace sluice::testing {

using nlohmann::json;

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Waits until `fd` is ready for `events` or `deadline_ms` (steady clock) passes.
bool WaitFor(int fd, short events, int64_t deadline_ms) {
  for (;;) {
    const int64_t left = deadline_ms - NowMs();
    if (left <= 0) {
      return false;
    }
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) {
      return true;
    }
    if (n < 0 && errno != EINTR) {
      return false;
    }
  }
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string HttpReply::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) {
      return value;
    }
  }
  return "";
}

json HttpReply::Json() const {
  return json::parse(body, nullptr, /*allow_exceptions=*/false);
}

std::string HttpReply::ErrorType() const {
  const json j = Json();
  if (!j.is_object() || !j.contains("__type") || !j["__type"].is_string()) {
    return "";
  }
  std::string type = j["__type"].get<std::string>();
  // botocore's rule: "prefix#Code" and "Code:http://..." both mean Code.
  type = type.substr(0, type.find(':'));
  const size_t hash = type.rfind('#');
  return hash == std::string::npos ? type : type.substr(hash + 1);
}

std::string HttpReply::Message() const {
  const json j = Json();
  if (!j.is_object()) {
    return "";
  }
  for (const char* key : {"message", "Message"}) {
    if (j.contains(key) && j[key].is_string()) {
      return j[key].get<std::string>();
    }
  }
  return "";
}

std::string HttpReply::Describe() const {
  if (status == 0) {
    return "no response: " + error;
  }
  std::string text = "HTTP " + std::to_string(status) + " " + body.substr(0, 2000);
  if (body.size() > 2000) {
    text += "... (" + std::to_string(body.size()) + " bytes)";
  }
  return text;
}

HttpConnection::HttpConnection(uint16_t port, int timeout_ms) : timeout_ms_(timeout_ms) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    return;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    Close();
    return;
  }
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

HttpConnection::~HttpConnection() {
  Close();
}

void HttpConnection::Close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  buffer_.clear();
}

bool HttpConnection::Send(std::string_view bytes) {
  const int64_t deadline = NowMs() + timeout_ms_;
  while (!bytes.empty()) {
    if (fd_ < 0) {
      return false;
    }
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!WaitFor(fd_, POLLOUT, deadline)) {
        return false;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    return false;  // the connection failed; a response may still be readable
  }
  return true;
}

bool HttpConnection::Fill(std::string* error) {
  if (fd_ < 0) {
    *error = "not connected";
    return false;
  }
  const int64_t deadline = NowMs() + timeout_ms_;
  for (;;) {
    if (!WaitFor(fd_, POLLIN, deadline)) {
      *error = "timed out after " + std::to_string(timeout_ms_) + " ms waiting for the response";
      return false;
    }
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), MSG_DONTWAIT);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      return true;
    }
    if (n == 0) {
      *error = "connection closed by the server";
      return false;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      continue;
    }
    *error = std::string("recv: ") + std::strerror(errno);
    return false;
  }
}

HttpReply HttpConnection::Receive() {
  HttpReply reply;
  size_t header_end;
  while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!Fill(&reply.error)) {
      Close();
      return reply;
    }
  }
  const std::string head = buffer_.substr(0, header_end);
  buffer_.erase(0, header_end + 4);
  // Status line: HTTP/1.1 200 OK
  const size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) {
    reply.error = "bad status line: " + status_line;
    Close();
    return reply;
  }
  const int status = std::atoi(status_line.c_str() + 9);
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string::npos) {
      end = head.size();
    }
    const std::string line = head.substr(pos, end - pos);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') {
        value.erase(0, 1);
      }
      while (!value.empty() && value.back() == ' ') {
        value.pop_back();
      }
      reply.headers.emplace_back(line.substr(0, colon), value);
    }
    pos = end + 2;
  }
  const std::string length = reply.Header("Content-Length");
  const std::string encoding = reply.Header("Transfer-Encoding");
  if (EqualsIgnoreCase(encoding, "chunked")) {
    for (;;) {
      size_t size_end;
      while ((size_end = buffer_.find("\r\n")) == std::string::npos) {
        if (!Fill(&reply.error)) {
          Close();
          return reply;
        }
      }
      const size_t size = std::strtoul(buffer_.c_str(), nullptr, 16);
      while (buffer_.size() < size_end + 2 + size + 2) {
        if (!Fill(&reply.error)) {
          Close();
          return reply;
        }
      }
      reply.body.append(buffer_, size_end + 2, size);
      buffer_.erase(0, size_end + 2 + size + 2);
      if (size == 0) {
        break;  // (no trailers expected)
      }
    }
  } else if (!length.empty()) {
    const size_t size = std::strtoull(length.c_str(), nullptr, 10);
    while (buffer_.size() < size) {
      if (!Fill(&reply.error)) {
        Close();
        return reply;
      }
    }
    reply.body = buffer_.substr(0, size);
    buffer_.erase(0, size);
  } else {
    // Until the server closes the connection.
    std::string ignored;
    while (Fill(&ignored)) {
    }
    reply.body = std::move(buffer_);
    Close();
  }
  reply.status = status;
  if (EqualsIgnoreCase(reply.Header("Connection"), "close")) {
    Close();
  }
  return reply;
}

HttpReply HttpConnection::RoundTrip(std::string_view request_bytes) {
  if (!Send(request_bytes)) {
    // The server may have answered (e.g. 413) and closed before taking the whole request.
    HttpReply reply = Receive();
    if (reply.status == 0) {
      reply.error = "send failed (" + std::string(std::strerror(errno)) + "); " + reply.error;
    }
    return reply;
  }
  return Receive();
}

bool HttpConnection::PeerClosed() {
  if (fd_ < 0) {
    return true;
  }
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) {
    return false;
  }
  char c;
  const ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

std::string HttpRequestBytes(const std::vector<std::pair<std::string, std::string>>& headers,
                             std::string_view body, std::string_view method) {
  std::string out;
  out.reserve(body.size() + 512);
  out.append(method).append(" / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  for (const auto& [name, value] : headers) {
    out.append(name).append(": ").append(value).append("\r\n");
  }
  out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n");
  out.append(body);
  return out;
}

std::string KinesisRequestBytes(std::string_view operation, std::string_view body) {
  return HttpRequestBytes({{"Content-Type", "application/x-amz-json-1.1"},
                           {"X-Amz-Target", "Kinesis_20131202." + std::string(operation)}},
                          body);
}

KinesisClient::KinesisClient(uint16_t port, int timeout_ms)
    : port_(port), timeout_ms_(timeout_ms) {}

HttpReply KinesisClient::CallRaw(std::string_view operation, std::string_view body) {
  if (connection_ == nullptr || connection_->PeerClosed()) {
    connection_ = std::make_unique<HttpConnection>(port_, timeout_ms_);
  }
  if (!connection_->connected()) {
    HttpReply reply;
    reply.error = "cannot connect to 127.0.0.1:" + std::to_string(port_);
    return reply;
  }
  return connection_->RoundTrip(KinesisRequestBytes(operation, body));
}

HttpReply KinesisClient::Call(std::string_view operation, const json& body) {
  return CallRaw(operation, body.dump());
}

json KinesisClient::Ok(std::string_view operation, const json& body) {
  const HttpReply reply = Call(operation, body);
  if (reply.status != 200) {
    throw std::runtime_error(std::string(operation) + " " + body.dump().substr(0, 500) +
                             " failed: " + reply.Describe());
  }
  if (reply.body.empty()) {
    return json::object();
  }
  json out = reply.Json();
  if (out.is_discarded()) {
    throw std::runtime_error(std::string(operation) +
                             " answered 200 with a body that is not "
                             "JSON: " +
                             reply.body.substr(0, 500));
  }
  return out;
}

std::vector<ReadRecord> ReadWholeShard(KinesisClient& client, const std::string& stream,
                                       const std::string& shard_id) {
  std::string iterator = client
                             .Ok("GetShardIterator", {{"StreamName", stream},
                                                      {"ShardId", shard_id},
                                                      {"ShardIteratorType", "TRIM_HORIZON"}})
                             .at("ShardIterator")
                             .get<std::string>();
  std::vector<ReadRecord> records;
  for (int calls = 0;; ++calls) {
    if (calls > 100000) {
      throw std::runtime_error("ReadWholeShard: " + shard_id + " never ran out of records");
    }
    const json out = client.Ok("GetRecords", {{"ShardIterator", iterator}});
    for (const json& record : out.at("Records")) {
      ReadRecord r;
      r.sequence_number = record.at("SequenceNumber").get<std::string>();
      r.partition_key = record.at("PartitionKey").get<std::string>();
      if (!Base64Decode(record.at("Data").get<std::string>(), &r.data)) {
        throw std::runtime_error("GetRecords returned Data that is not base64: " +
                                 record.at("Data").dump());
      }
      r.arrival_seconds = record.at("ApproximateArrivalTimestamp").get<double>();
      records.push_back(std::move(r));
    }
    if (!out.contains("NextShardIterator") || out["NextShardIterator"].is_null() ||
        out.at("Records").empty()) {
      return records;
    }
    iterator = out["NextShardIterator"].get<std::string>();
  }
}

unsigned __int128 ParseU128(std::string_view decimal) {
  if (decimal.empty() || (decimal.size() > 1 && decimal[0] == '0') || decimal.size() > 39) {
    throw std::runtime_error("not a canonical decimal number: '" + std::string(decimal) + "'");
  }
  unsigned __int128 value = 0;
  for (const char c : decimal) {
    if (c < '0' || c > '9') {
      throw std::runtime_error("not a decimal number: '" + std::string(decimal) + "'");
    }
    const unsigned digit = static_cast<unsigned>(c - '0');
    if (value > (~static_cast<unsigned __int128>(0) - digit) / 10) {
      throw std::runtime_error("decimal number above 2^128-1: '" + std::string(decimal) + "'");
    }
    value = value * 10 + digit;
  }
  return value;
}

std::string U128ToString(unsigned __int128 value) {
  if (value == 0) {
    return "0";
  }
  std::string out;
  while (value > 0) {
    out.insert(out.begin(), static_cast<char>('0' + static_cast<int>(value % 10)));
    value /= 10;
  }
  return out;
}

}  // namespace sluice::testing
