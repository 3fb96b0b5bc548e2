// kinesis_load: the Kinesis HTTP benchmark load client. One client, used unchanged against any
// server that speaks the Kinesis JSON 1.1 API (`sluice serve`, kinesalite), so that their figures
// compare. It speaks HTTP/1.1 itself over plain POSIX sockets, one kept-alive connection per
// thread, and keeps its own work small so that it takes little CPU from the server it measures:
// request bodies are built before the clock starts, responses are read by Content-Length (chunked
// only if a server sends it), and large responses are scanned for the few fields it needs rather
// than parsed into a tree. Requests carry the headers an AWS SDK sends, with a well-formed SigV4
// Authorization header whose signature is a fixed fake value.
//
// Phases, each printing one JSON line per figure on stdout:
//   {"bench":"kinesis_http","metric":...,"value":...,"unit":...,"server":LABEL}
//   a. create: CreateStream, then DescribeStreamSummary until ACTIVE, then ListShards
//      (an existing stream is an error unless --reuse).
//   b. ingest: --clients threads loop PutRecords (--records-per-call records of --record-size
//      random bytes, random partition keys, so every shard gets a share) for --seconds.
//   c. drain: one thread per shard reads it from TRIM_HORIZON with GetRecords (Limit 10000) until
//      caught up (an empty batch with MillisBehindLatest 0, or no NextShardIterator), and checks
//      that the records read are exactly the records acknowledged in b, in increasing sequence
//      number order per shard.
//   d. put-to-read latency: one reader per shard polls GetRecords from LATEST; one writer puts
//      single records (PutRecord) at --latency-rate with its send time in the data. A reader
//      that gets an empty batch sleeps --poll-sleep-ms before polling again (servers return
//      empty batches at once; AWS does not long-poll GetRecords); one that gets records polls
//      again at once.
//   e. delete: DeleteStream, then DescribeStreamSummary until the stream is gone.
// Every failure (transport error, non-200 response, malformed response, failed record, record
// missing or out of order) is counted, printed on stderr, reported in the `errors` figure, and
// makes the exit status 1: a run with errors never reports its numbers silently.
//
// usage: kinesis_load --endpoint HOST:PORT --label NAME [options]; --help lists the options.
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <latch>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr std::string_view kTargetPrefix = "Kinesis_20131202.";

// What the command line asks for.
struct Options {
  std::string host;
  std::string port;
  std::string label;
  std::string stream = "kinesis-load";
  int shards = 4;
  int clients = 8;
  double seconds = 5;
  int records_per_call = 500;
  int record_size = 100;
  int latency_samples = 1000;
  double latency_rate = 200;
  double poll_sleep_ms = 1;
  double drain_timeout_s = 60;
  int timeout_ms = 30000;
  bool reuse = false;
  bool keep = false;
};

// ---------------------------------------------------------------------------------------------
// Error accounting.

// Counts failures by kind for the whole run; prints the first few of each kind on stderr.
class ErrorLog {
 public:
  void Add(const std::string& kind, const std::string& message, int64_t n = 1) {
    std::lock_guard lock(mu_);
    int64_t& count = counts_[kind];
    if (count < 3) {
      std::fprintf(stderr, "kinesis_load: %s: %s\n", kind.c_str(), message.c_str());
    }
    count += n;
  }
  int64_t Total() const {
    std::lock_guard lock(mu_);
    int64_t total = 0;
    for (const auto& [kind, count] : counts_)
      total += count;
    return total;
  }
  void PrintSummary() const {
    std::lock_guard lock(mu_);
    for (const auto& [kind, count] : counts_) {
      std::fprintf(stderr, "kinesis_load: %lld x %s\n", static_cast<long long>(count),
                   kind.c_str());
    }
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, int64_t> counts_;
};

ErrorLog errors;

// ---------------------------------------------------------------------------------------------
// Output.

std::string label_json;  // the --label value as a JSON string

void Emit(const char* metric, double value, const char* unit) {
  char number[64];
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(number, sizeof number, "%lld", static_cast<long long>(value));
  } else if (std::isfinite(value)) {
    std::snprintf(number, sizeof number, "%.3f", value);
  } else {
    std::snprintf(number, sizeof number, "null");
  }
  std::printf(
      "{\"bench\":\"kinesis_http\",\"metric\":\"%s\",\"value\":%s,\"unit\":\"%s\","
      "\"server\":%s}\n",
      metric, number, unit, label_json.c_str());
  std::fflush(stdout);
}

// Nearest-rank percentile of `v` (p in [0, 1]); NaN when empty.
double Percentile(std::vector<double> v, double p) {
  if (v.empty())
    return std::nan("");
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}
double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

void SleepMs(double ms) {
  if (ms > 0)
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(ms));
}

// ---------------------------------------------------------------------------------------------
// Base64 (standard alphabet, padded), as the JSON 1.1 protocol carries blobs.

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                 static_cast<uint8_t>(in[i + 2]);
    out += kBase64[v >> 18];
    out += kBase64[(v >> 12) & 63];
    out += kBase64[(v >> 6) & 63];
    out += kBase64[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size())
      v |= static_cast<uint8_t>(in[i + 1]) << 8;
    out += kBase64[v >> 18];
    out += kBase64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kBase64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// Decodes standard base64; nullopt if `in` is not valid base64.
std::optional<std::string> Base64Decode(std::string_view in) {
  static const std::array<int8_t, 256> table = [] {
    std::array<int8_t, 256> t;
    t.fill(-1);
    for (int i = 0; i < 64; ++i)
      t[static_cast<uint8_t>(kBase64[i])] = static_cast<int8_t>(i);
    return t;
  }();
  if (in.size() % 4 != 0)
    return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    int pad = 0;
    uint32_t v = 0;
    for (size_t j = 0; j < 4; ++j) {
      char c = in[i + j];
      int d;
      if (c == '=' && i + 4 == in.size() && j >= 2) {
        d = 0;
        ++pad;
      } else {
        if (pad > 0)
          return std::nullopt;
        d = table[static_cast<uint8_t>(c)];
        if (d < 0)
          return std::nullopt;
      }
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    out += static_cast<char>(v >> 16);
    if (pad < 2)
      out += static_cast<char>((v >> 8) & 0xff);
    if (pad < 1)
      out += static_cast<char>(v & 0xff);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Scanning JSON responses for single fields, without parsing the rest.

// Position of the value of the next member named `quoted_key` (with its quotes, e.g.
// "\"Data\"") at or after `from`, or npos. Sound for bodies whose string values cannot contain
// the key followed by a colon, as in Kinesis responses to this client's own records (base64 data,
// decimal sequence numbers, partition keys of its own making).
size_t FindValue(std::string_view body, std::string_view quoted_key, size_t from) {
  while (true) {
    size_t at = body.find(quoted_key, from);
    if (at == std::string_view::npos)
      return at;
    size_t p = at + quoted_key.size();
    while (p < body.size() &&
           (body[p] == ' ' || body[p] == '\t' || body[p] == '\r' || body[p] == '\n')) {
      ++p;
    }
    if (p < body.size() && body[p] == ':') {
      ++p;
      while (p < body.size() &&
             (body[p] == ' ' || body[p] == '\t' || body[p] == '\r' || body[p] == '\n')) {
        ++p;
      }
      return p;
    }
    from = at + 1;
  }
}

// Reads the JSON string starting at `p` (its opening quote) into `out`, decoding the escapes a
// base64 or decimal string can carry (`\/` from encoders that escape slashes, and the rest of
// the simple escapes). Returns the position after the closing quote, or npos if malformed.
size_t ReadString(std::string_view body, size_t p, std::string* out) {
  if (p >= body.size() || body[p] != '"')
    return std::string_view::npos;
  ++p;
  size_t end = body.find('"', p);
  if (end == std::string_view::npos)
    return end;
  std::string_view raw = body.substr(p, end - p);
  if (raw.find('\\') == std::string_view::npos) {
    out->assign(raw);
    return end + 1;
  }
  out->clear();
  while (p < body.size()) {
    char c = body[p++];
    if (c == '"')
      return p;
    if (c != '\\') {
      *out += c;
      continue;
    }
    if (p >= body.size())
      break;
    char e = body[p++];
    switch (e) {
      case '"': *out += '"'; break;
      case '\\': *out += '\\'; break;
      case '/': *out += '/'; break;
      case 'b': *out += '\b'; break;
      case 'f': *out += '\f'; break;
      case 'n': *out += '\n'; break;
      case 'r': *out += '\r'; break;
      case 't': *out += '\t'; break;
      default: return std::string_view::npos;  // \u never occurs in base64 or digits
    }
  }
  return std::string_view::npos;
}

// Whether `body`, trimmed, is a single JSON object's braces (a cheap truncation check).
bool LooksLikeObject(std::string_view body) {
  size_t first = body.find_first_not_of(" \t\r\n");
  size_t last = body.find_last_not_of(" \t\r\n");
  return first != std::string_view::npos && body[first] == '{' && body[last] == '}';
}

// Sequence numbers are decimal strings wider than 64 bits; compares them as numbers.
bool SeqLess(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return a.size() < b.size();
  return a < b;
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 over one kept-alive TCP connection.

// Where the server is.
struct Endpoint {
  std::string host;
  std::string port;
  std::string authority;  // the Host header
};

// One response. `body` stays valid until the connection's next RoundTrip.
struct HttpResponse {
  int status = 0;
  std::string_view body;
};

// A client's HTTP/1.1 connection: one request at a time, kept alive between requests and
// reopened when the server has closed it. Not thread-safe; each thread has its own.
class HttpConnection {
 public:
  HttpConnection(const Endpoint& endpoint, int timeout_ms)
      : endpoint_(endpoint), timeout_ms_(timeout_ms), buf_(256 * 1024) {}
  ~HttpConnection() { Close(); }
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Opens the connection now (so that a phase's threads connect before its clock starts).
  // Returns an error text, or "" on success.
  std::string Connect() {
    Close();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    int rc = ::getaddrinfo(endpoint_.host.c_str(), endpoint_.port.c_str(), &hints, &list);
    if (rc != 0)
      return "resolve " + endpoint_.authority + ": " + ::gai_strerror(rc);
    std::string error = "connect " + endpoint_.authority + ": no address";
    for (addrinfo* a = list; a != nullptr; a = a->ai_next) {
      int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0)
        continue;
      if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        timeval tv{timeout_ms_ / 1000, (timeout_ms_ % 1000) * 1000};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        fd_ = fd;
        reused_ = false;
        error.clear();
        break;
      }
      error = "connect " + endpoint_.authority + ": " + std::strerror(errno);
      ::close(fd);
    }
    ::freeaddrinfo(list);
    return error;
  }

  // Sends one request (`head` ends with the blank line) and reads its response. A request on a
  // kept-alive connection that the server closed before answering is sent once more on a new
  // connection, as HTTP clients do. On failure returns false and sets `error`.
  bool RoundTrip(std::string_view head, std::string_view body, HttpResponse* response,
                 std::string* error) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fd_ >= 0 && PeerClosed())
        Close();
      if (fd_ < 0) {
        *error = Connect();
        if (!error->empty())
          return false;
      }
      bool was_reused = reused_;
      bool got_bytes = false;
      if (Send(head, body, error) && Receive(response, error, &got_bytes)) {
        reused_ = true;
        if (close_after_)
          Close();
        return true;
      }
      Close();
      if (!was_reused || got_bytes)
        return false;
    }
    return false;
  }

 private:
  void Close() {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
    begin_ = end_ = 0;  // buf_ keeps its bytes: the last response's body stays readable
  }

  // Whether the server has closed (or written unasked to) the idle connection.
  bool PeerClosed() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0)
      return false;
    char c;
    ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
  }

  bool Send(std::string_view head, std::string_view body, std::string* error) {
    iovec iov[2] = {{const_cast<char*>(head.data()), head.size()},
                    {const_cast<char*>(body.data()), body.size()}};
    size_t first = 0;
    while (first < 2) {
      msghdr msg{};
      msg.msg_iov = iov + first;
      msg.msg_iovlen = 2 - first;
      ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        *error = std::string("send: ") +
                 (errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : std::strerror(errno));
        return false;
      }
      size_t left = static_cast<size_t>(n);
      while (first < 2 && left >= iov[first].iov_len) {
        left -= iov[first].iov_len;
        ++first;
      }
      if (first < 2) {
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
        iov[first].iov_len -= left;
      }
    }
    return true;
  }

  // Reads more bytes into buf_[end_...]. False on end of stream or error (sets `error`).
  bool Fill(std::string* error) {
    if (buf_.size() - end_ < 64 * 1024)
      buf_.resize(std::max(buf_.size() * 2, end_ + 64 * 1024));
    while (true) {
      ssize_t n = ::recv(fd_, buf_.data() + end_, buf_.size() - end_, 0);
      if (n > 0) {
        end_ += static_cast<size_t>(n);
        return true;
      }
      if (n == 0) {
        *error = "connection closed by server";
        return false;
      }
      if (errno == EINTR)
        continue;
      *error = std::string("receive: ") +
               (errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : std::strerror(errno));
      return false;
    }
  }

  std::string_view Buffered() const { return {buf_.data() + begin_, end_ - begin_}; }

  // Reads one response: status line, headers, then a body delimited by Content-Length, chunked
  // encoding, or the end of the connection.
  bool Receive(HttpResponse* response, std::string* error, bool* got_bytes) {
    if (begin_ == end_) {
      begin_ = end_ = 0;
    } else if (begin_ > 0) {
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    close_after_ = false;
    while (true) {  // skips 1xx responses
      size_t head_end;
      while ((head_end = Buffered().find("\r\n\r\n")) == std::string_view::npos) {
        if (end_ - begin_ > 64 * 1024) {
          *error = "response head larger than 64 KiB";
          return false;
        }
        if (!Fill(error))
          return false;
        *got_bytes = true;
      }
      std::string_view head = Buffered().substr(0, head_end + 2);
      size_t head_size = head_end + 4;
      // Status line: HTTP/1.x NNN reason
      if (head.size() < 12 || head.substr(0, 7) != "HTTP/1." || head[8] != ' ') {
        *error = "malformed status line";
        return false;
      }
      bool http10 = head[7] == '0';
      int status = std::atoi(std::string(head.substr(9, 3)).c_str());
      std::optional<size_t> content_length;
      bool chunked = false;
      bool keep_alive_header = false;
      size_t line = head.find("\r\n") + 2;
      while (line < head.size()) {
        size_t eol = head.find("\r\n", line);
        std::string_view h = head.substr(line, eol - line);
        line = eol + 2;
        size_t colon = h.find(':');
        if (colon == std::string_view::npos)
          continue;
        std::string_view name = h.substr(0, colon);
        std::string_view value = h.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
          value.remove_prefix(1);
        }
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
          value.remove_suffix(1);
        }
        auto is = [](std::string_view a, std::string_view b) {
          return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
        };
        auto contains = [](std::string_view hay, std::string_view needle) {
          for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
            if (::strncasecmp(hay.data() + i, needle.data(), needle.size()) == 0)
              return true;
          }
          return false;
        };
        if (is(name, "content-length")) {
          content_length = std::strtoull(std::string(value).c_str(), nullptr, 10);
        } else if (is(name, "transfer-encoding")) {
          chunked = contains(value, "chunked");
        } else if (is(name, "connection")) {
          if (contains(value, "close"))
            close_after_ = true;
          if (contains(value, "keep-alive"))
            keep_alive_header = true;
        }
      }
      if (http10 && !keep_alive_header)
        close_after_ = true;
      if (status >= 100 && status < 200) {
        begin_ += head_size;
        continue;
      }
      response->status = status;
      size_t body_begin = begin_ + head_size;
      if (chunked) {
        return ReceiveChunked(body_begin, response, error, got_bytes);
      }
      if (status == 204 || status == 304)
        content_length = 0;
      if (content_length) {
        while (end_ - body_begin < *content_length) {
          if (!Fill(error))
            return false;
          *got_bytes = true;
        }
        response->body = {buf_.data() + body_begin, *content_length};
        begin_ = body_begin + *content_length;
        return true;
      }
      // No length: the body runs to the end of the connection.
      std::string ignored;
      while (Fill(&ignored))
        *got_bytes = true;
      response->body = {buf_.data() + body_begin, end_ - body_begin};
      begin_ = end_;
      close_after_ = true;
      return true;
    }
  }

  bool ReceiveChunked(size_t pos, HttpResponse* response, std::string* error, bool* got_bytes) {
    chunked_body_.clear();
    while (true) {
      size_t eol;
      while ((eol = std::string_view(buf_.data() + pos, end_ - pos).find("\r\n")) ==
             std::string_view::npos) {
        if (!Fill(error))
          return false;
        *got_bytes = true;
      }
      size_t size = std::strtoull(std::string(buf_.data() + pos, eol).c_str(), nullptr, 16);
      pos += eol + 2;
      if (size == 0) {  // trailers, then a blank line
        while (true) {
          while ((eol = std::string_view(buf_.data() + pos, end_ - pos).find("\r\n")) ==
                 std::string_view::npos) {
            if (!Fill(error))
              return false;
            *got_bytes = true;
          }
          pos += eol + 2;
          if (eol == 0)
            break;
        }
        begin_ = pos;
        response->body = chunked_body_;
        return true;
      }
      while (end_ - pos < size + 2) {
        if (!Fill(error))
          return false;
        *got_bytes = true;
      }
      chunked_body_.append(buf_.data() + pos, size);
      pos += size + 2;
    }
  }

  const Endpoint endpoint_;
  const int timeout_ms_;
  int fd_ = -1;
  bool reused_ = false;
  bool close_after_ = false;
  std::vector<char> buf_;
  size_t begin_ = 0;  // unread bytes are buf_[begin_, end_)
  size_t end_ = 0;
  std::string chunked_body_;
};

// ---------------------------------------------------------------------------------------------
// Kinesis requests.

// Builds request heads as an AWS SDK sends them: Host, Content-Type, X-Amz-Target, X-Amz-Date
// and a SigV4 Authorization header (well-formed; its signature is a fixed fake value, which
// kinesalite accepts since it checks only the header's shape).
class RequestHeads {
 public:
  explicit RequestHeads(const Endpoint& endpoint) : authority_(endpoint.authority) {
    std::time_t now = std::time(nullptr);
    std::tm utc{};
    ::gmtime_r(&now, &utc);
    char date[32];
    std::strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", &utc);
    amz_date_ = date;
  }

  std::string Head(std::string_view op, size_t content_length) const {
    std::string h;
    h.reserve(512);
    h += "POST / HTTP/1.1\r\nHost: ";
    h += authority_;
    h += "\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: ";
    h += kTargetPrefix;
    h += op;
    h += "\r\nX-Amz-Date: ";
    h += amz_date_;
    h += "\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/";
    h += amz_date_.substr(0, 8);
    h += "/us-east-1/kinesis/aws4_request, "
         "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
         "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
         "\r\nUser-Agent: sluice-kinesis-load/1\r\nContent-Length: ";
    h += std::to_string(content_length);
    h += "\r\n\r\n";
    return h;
  }

 private:
  std::string authority_;
  std::string amz_date_;
};

// A request built ahead of time.
struct Request {
  std::string head;
  std::string body;
};

// "HTTP 400 ResourceInUseException: Stream x already exists." from an error response.
std::string DescribeFailure(const HttpResponse& r) {
  std::string text = "HTTP " + std::to_string(r.status);
  json j = json::parse(r.body, nullptr, false);
  if (j.is_object()) {
    if (j.contains("__type") && j["__type"].is_string()) {
      text += " " + j["__type"].get<std::string>();
    }
    for (const char* key : {"message", "Message"}) {
      if (j.contains(key) && j[key].is_string())
        text += ": " + j[key].get<std::string>();
    }
  } else {
    text += ": " + std::string(r.body.substr(0, 200));
  }
  return text;
}

// The error code (`__type`, without any namespace prefix) of an error response, or "".
std::string ErrorType(const HttpResponse& r) {
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("__type") || !j["__type"].is_string())
    return "";
  std::string type = j["__type"].get<std::string>();  // as botocore reads it:
  size_t colon = type.find(':');                      // "Code:http://..."
  if (colon != std::string::npos)
    type = type.substr(0, colon);
  size_t hash = type.rfind('#');  // "com.amazonaws.kinesis.v20131202#Code"
  if (hash != std::string::npos)
    type = type.substr(hash + 1);
  return type;
}

// A connection that speaks Kinesis operations.
class KinesisConnection {
 public:
  KinesisConnection(const Endpoint& endpoint, const RequestHeads& heads, int timeout_ms)
      : http_(endpoint, timeout_ms), heads_(heads) {}

  std::string Connect() { return http_.Connect(); }

  // Sends a prebuilt request. On a transport failure returns false and sets `error`.
  bool Send(const Request& request, HttpResponse* response, std::string* error) {
    return http_.RoundTrip(request.head, request.body, response, error);
  }

  bool Call(std::string_view op, std::string_view body, HttpResponse* response,
            std::string* error) {
    std::string head = heads_.Head(op, body.size());
    return http_.RoundTrip(head, body, response, error);
  }

  // A control-plane call whose success is HTTP 200 with a JSON object (or empty) body. Returns
  // the parsed body; on failure nullopt, with `error` describing it and `type` set to the error
  // code when the server sent one.
  std::optional<json> Control(std::string_view op, const json& request, std::string* error,
                              std::string* type = nullptr) {
    HttpResponse r;
    std::string body = request.dump();
    if (!Call(op, body, &r, error))
      return std::nullopt;
    if (r.status != 200) {
      *error = std::string(op) + ": " + DescribeFailure(r);
      if (type != nullptr)
        *type = ErrorType(r);
      return std::nullopt;
    }
    if (r.body.find_first_not_of(" \t\r\n") == std::string_view::npos)
      return json::object();
    json j = json::parse(r.body, nullptr, false);
    if (!j.is_object()) {
      *error = std::string(op) + ": response is not a JSON object";
      return std::nullopt;
    }
    return j;
  }

  // GetShardIterator; nullopt (and an error counted under `kind`) on failure.
  std::optional<std::string> ShardIterator(const std::string& stream, const std::string& shard,
                                           const char* type, const char* kind) {
    std::string error;
    auto r =
        Control("GetShardIterator",
                {{"StreamName", stream}, {"ShardId", shard}, {"ShardIteratorType", type}}, &error);
    if (!r) {
      errors.Add(kind, error);
      return std::nullopt;
    }
    if (!r->contains("ShardIterator") || !(*r)["ShardIterator"].is_string()) {
      errors.Add(kind, "GetShardIterator: no ShardIterator in response");
      return std::nullopt;
    }
    return (*r)["ShardIterator"].get<std::string>();
  }

 private:
  HttpConnection http_;
  const RequestHeads& heads_;
};

// What one GetRecords response said, from a scan of its body.
struct RecordsPage {
  int64_t records = 0;
  int64_t millis_behind = -1;  // -1: absent
  bool has_next = false;
  std::string next_iterator;
  std::vector<std::string_view> sequence_numbers;  // into the body
  std::vector<std::string> data;                   // base64, when asked for
};

// Scans a 200 GetRecords body. Records are counted by their SequenceNumber members (every
// record has one, and nothing else in the response is so named). Returns an error text, or "".
std::string ScanGetRecords(std::string_view body, bool want_data, RecordsPage* page) {
  if (!LooksLikeObject(body))
    return "GetRecords: response is not a JSON object";
  size_t records_at = FindValue(body, "\"Records\"", 0);
  if (records_at == std::string_view::npos || body[records_at] != '[') {
    return "GetRecords: no Records array";
  }
  size_t p = 0;
  while ((p = FindValue(body, "\"SequenceNumber\"", p)) != std::string_view::npos) {
    if (body[p] != '"')
      return "GetRecords: SequenceNumber is not a string";
    size_t end = body.find('"', p + 1);
    if (end == std::string_view::npos)
      return "GetRecords: unterminated SequenceNumber";
    page->sequence_numbers.push_back(body.substr(p + 1, end - p - 1));
    p = end + 1;
  }
  page->records = static_cast<int64_t>(page->sequence_numbers.size());
  if (want_data) {
    p = 0;
    std::string value;
    while ((p = FindValue(body, "\"Data\"", p)) != std::string_view::npos) {
      p = ReadString(body, p, &value);
      if (p == std::string_view::npos)
        return "GetRecords: malformed Data";
      page->data.push_back(value);
    }
    if (static_cast<int64_t>(page->data.size()) != page->records) {
      return "GetRecords: Data and SequenceNumber counts differ";
    }
  }
  size_t m = FindValue(body, "\"MillisBehindLatest\"", 0);
  if (m != std::string_view::npos)
    page->millis_behind = std::strtoll(body.data() + m, nullptr, 10);
  size_t n = FindValue(body, "\"NextShardIterator\"", 0);
  if (n != std::string_view::npos && body[n] == '"') {
    if (ReadString(body, n, &page->next_iterator) == std::string_view::npos) {
      return "GetRecords: malformed NextShardIterator";
    }
    page->has_next = !page->next_iterator.empty();
  }
  return "";
}

std::string GetRecordsBody(const std::string& iterator, int limit) {
  std::string body = "{\"ShardIterator\":\"";
  body += iterator;  // base64: nothing to escape
  body += "\",\"Limit\":";
  body += std::to_string(limit);
  body += "}";
  return body;
}

// ---------------------------------------------------------------------------------------------
// Phases.

// State shared by the phases.
struct Run {
  Options opt;
  Endpoint endpoint;
  RequestHeads heads{Endpoint{}};
  std::vector<std::string> shards;
  // With --reuse: LATEST iterators taken before ingest, so that the drain reads only this run's
  // records.
  std::vector<std::string> drain_start;
  int64_t acknowledged = 0;
};

std::string StreamNameJson(const Run& run) {
  return json(run.opt.stream).dump();
}

// a. CreateStream, wait for ACTIVE, list the shards. False if the stream cannot be used.
bool CreateStream(Run& run) {
  KinesisConnection conn(run.endpoint, run.heads, run.opt.timeout_ms);
  std::string error, type;
  Clock::time_point start = Clock::now();
  bool created = true;
  if (!conn.Control("CreateStream",
                    {{"StreamName", run.opt.stream}, {"ShardCount", run.opt.shards}}, &error,
                    &type)) {
    if (type == "ResourceInUseException" && run.opt.reuse) {
      created = false;
      std::fprintf(stderr, "kinesis_load: reusing existing stream %s\n", run.opt.stream.c_str());
    } else {
      errors.Add("create", error + (type == "ResourceInUseException"
                                        ? " (pass --reuse to use an existing stream)"
                                        : ""));
      return false;
    }
  }
  Clock::time_point deadline = start + std::chrono::seconds(30);
  while (true) {
    auto r = conn.Control("DescribeStreamSummary", {{"StreamName", run.opt.stream}}, &error);
    if (!r) {
      errors.Add("create", error);
      return false;
    }
    const json& summary = (*r)["StreamDescriptionSummary"];
    if (summary.is_object() && summary.value("StreamStatus", "") == "ACTIVE")
      break;
    if (Clock::now() > deadline) {
      errors.Add("create", "stream not ACTIVE after 30 s");
      return false;
    }
    SleepMs(5);
  }
  if (created)
    Emit("create_stream_ms", Ms(Clock::now() - start), "ms");
  auto r = conn.Control("ListShards", {{"StreamName", run.opt.stream}}, &error);
  if (!r) {
    errors.Add("create", error);
    return false;
  }
  for (const json& shard : r->value("Shards", json::array())) {
    bool open = !shard.contains("SequenceNumberRange") ||
                !shard["SequenceNumberRange"].contains("EndingSequenceNumber") ||
                shard["SequenceNumberRange"]["EndingSequenceNumber"].is_null();
    if (open && shard.contains("ShardId") && shard["ShardId"].is_string()) {
      run.shards.push_back(shard["ShardId"].get<std::string>());
    }
  }
  if (run.shards.empty()) {
    errors.Add("create", "ListShards: no open shards");
    return false;
  }
  if (created && static_cast<int>(run.shards.size()) != run.opt.shards) {
    errors.Add("create", "ListShards: " + std::to_string(run.shards.size()) +
                             " open shards, asked for " + std::to_string(run.opt.shards));
  }
  if (!created) {
    for (const std::string& shard : run.shards) {
      auto it = conn.ShardIterator(run.opt.stream, shard, "LATEST", "create");
      if (!it)
        return false;
      run.drain_start.push_back(*it);
    }
  }
  return true;
}

// A PutRecords body: --records-per-call records of --record-size random bytes, each under a
// random partition key.
std::string PutRecordsBody(const Run& run, std::mt19937_64& rng) {
  std::string body = "{\"StreamName\":" + StreamNameJson(run) + ",\"Records\":[";
  std::string data(static_cast<size_t>(run.opt.record_size), '\0');
  char key[32];
  for (int i = 0; i < run.opt.records_per_call; ++i) {
    for (char& c : data)
      c = static_cast<char>(rng());
    std::snprintf(key, sizeof key, "pk-%016llx", static_cast<unsigned long long>(rng()));
    if (i > 0)
      body += ',';
    body += "{\"Data\":\"";
    body += Base64Encode(data);
    body += "\",\"PartitionKey\":\"";
    body += key;
    body += "\"}";
  }
  body += "]}";
  return body;
}

// One ingest client's results.
struct IngestStats {
  int64_t calls = 0;
  int64_t acknowledged = 0;
  int64_t failed_records = 0;
  int64_t failed_calls = 0;
  std::vector<double> call_ms;
  Clock::time_point finished;
};

// The FailedRecordCount of a 200 PutRecords body, found by scanning; -1 if absent.
int64_t FailedRecordCount(std::string_view body) {
  size_t p = FindValue(body, "\"FailedRecordCount\"", 0);
  if (p == std::string_view::npos || p >= body.size() || body[p] < '0' || body[p] > '9')
    return -1;
  return std::strtoll(body.data() + p, nullptr, 10);
}

// b. PutRecords from --clients threads for --seconds.
void Ingest(Run& run) {
  const Options& opt = run.opt;
  constexpr int kBodiesPerClient = 4;
  std::vector<IngestStats> stats(static_cast<size_t>(opt.clients));
  std::latch ready(opt.clients + 1);
  std::latch go(1);
  Clock::time_point start, deadline;
  std::vector<std::thread> threads;
  for (int c = 0; c < opt.clients; ++c) {
    threads.emplace_back([&, c] {
      IngestStats& s = stats[static_cast<size_t>(c)];
      std::mt19937_64 rng(std::random_device{}() ^ (static_cast<uint64_t>(c) << 32));
      std::vector<Request> requests;
      for (int i = 0; i < kBodiesPerClient; ++i) {
        Request r;
        r.body = PutRecordsBody(run, rng);
        r.head = run.heads.Head("PutRecords", r.body.size());
        requests.push_back(std::move(r));
      }
      s.call_ms.reserve(100000);
      KinesisConnection conn(run.endpoint, run.heads, opt.timeout_ms);
      std::string error = conn.Connect();
      if (!error.empty())
        errors.Add("put_transport", error);
      ready.count_down();
      go.wait();
      HttpResponse r;
      for (size_t i = 0; Clock::now() < deadline; ++i) {
        Clock::time_point t0 = Clock::now();
        bool sent = conn.Send(requests[i % requests.size()], &r, &error);
        Clock::time_point t1 = Clock::now();
        ++s.calls;
        if (!sent) {
          ++s.failed_calls;
          errors.Add("put_transport", "PutRecords: " + error);
          SleepMs(10);
          continue;
        }
        if (r.status != 200) {
          ++s.failed_calls;
          errors.Add("put_http", "PutRecords: " + DescribeFailure(r));
          continue;
        }
        int64_t failed = FailedRecordCount(r.body);
        if (failed < 0 || failed > opt.records_per_call || !LooksLikeObject(r.body)) {
          ++s.failed_calls;
          errors.Add("put_malformed", "PutRecords: no FailedRecordCount in response: " +
                                          std::string(r.body.substr(0, 200)));
          continue;
        }
        if (failed > 0) {
          errors.Add("put_failed_records",
                     "PutRecords: FailedRecordCount " + std::to_string(failed), failed);
        }
        s.failed_records += failed;
        s.acknowledged += opt.records_per_call - failed;
        s.call_ms.push_back(Ms(t1 - t0));
      }
      s.finished = Clock::now();
    });
  }
  ready.arrive_and_wait();
  start = Clock::now();
  deadline = start + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(opt.seconds));
  go.count_down();
  for (std::thread& t : threads)
    t.join();
  IngestStats total;
  Clock::time_point end = start;
  for (IngestStats& s : stats) {
    total.calls += s.calls;
    total.acknowledged += s.acknowledged;
    total.failed_records += s.failed_records;
    total.failed_calls += s.failed_calls;
    total.call_ms.insert(total.call_ms.end(), s.call_ms.begin(), s.call_ms.end());
    end = std::max(end, s.finished);
  }
  double elapsed = Seconds(end - start);
  run.acknowledged = total.acknowledged;
  Emit("put_records_per_s", static_cast<double>(total.acknowledged) / elapsed, "records/s");
  Emit("put_calls_per_s", static_cast<double>(total.calls - total.failed_calls) / elapsed,
       "calls/s");
  Emit("put_mib_per_s",
       static_cast<double>(total.acknowledged) * opt.record_size / elapsed / (1024 * 1024),
       "MiB/s");
  Emit("put_call_p50_ms", Percentile(total.call_ms, 0.50), "ms");
  Emit("put_call_p99_ms", Percentile(total.call_ms, 0.99), "ms");
  Emit("put_records_acknowledged", static_cast<double>(total.acknowledged), "records");
  Emit("put_failed_records", static_cast<double>(total.failed_records), "records");
  Emit("put_errors", static_cast<double>(total.failed_calls), "calls");
}

// c. Read every shard from the start until caught up; check the count and order.
void Drain(Run& run) {
  const Options& opt = run.opt;
  std::vector<int64_t> read(run.shards.size(), 0);
  std::vector<int64_t> failures(run.shards.size(), 0);
  Clock::time_point start = Clock::now();
  Clock::time_point deadline = start + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(opt.drain_timeout_s));
  std::vector<std::thread> threads;
  for (size_t s = 0; s < run.shards.size(); ++s) {
    threads.emplace_back([&, s] {
      const std::string& shard = run.shards[s];
      KinesisConnection conn(run.endpoint, run.heads, opt.timeout_ms);
      std::optional<std::string> iterator;
      if (run.drain_start.empty()) {
        iterator = conn.ShardIterator(opt.stream, shard, "TRIM_HORIZON", "drain");
      } else {
        iterator = run.drain_start[s];
      }
      if (!iterator) {
        ++failures[s];
        return;
      }
      std::string last_seq;
      HttpResponse r;
      std::string error;
      while (true) {
        if (Clock::now() > deadline) {
          ++failures[s];
          errors.Add("drain_timeout",
                     shard + ": not caught up after " + std::to_string(opt.drain_timeout_s) + " s");
          return;
        }
        if (!conn.Call("GetRecords", GetRecordsBody(*iterator, 10000), &r, &error)) {
          ++failures[s];
          errors.Add("drain_transport", shard + ": GetRecords: " + error);
          return;
        }
        if (r.status != 200) {
          ++failures[s];
          errors.Add("drain_http", shard + ": GetRecords: " + DescribeFailure(r));
          return;
        }
        RecordsPage page;
        error = ScanGetRecords(r.body, false, &page);
        if (!error.empty()) {
          ++failures[s];
          errors.Add("drain_malformed", shard + ": " + error);
          return;
        }
        for (std::string_view seq : page.sequence_numbers) {
          if (!last_seq.empty() && !SeqLess(last_seq, seq)) {
            ++failures[s];
            errors.Add("drain_order",
                       shard + ": sequence number " + std::string(seq) + " after " + last_seq);
          }
          last_seq = seq;
        }
        read[s] += page.records;
        if (!page.has_next)
          return;  // closed shard read
        if (page.records == 0 && page.millis_behind == 0)
          return;  // caught up
        *iterator = std::move(page.next_iterator);
      }
    });
  }
  for (std::thread& t : threads)
    t.join();
  double elapsed = Seconds(Clock::now() - start);
  int64_t total = 0, failed = 0;
  for (size_t s = 0; s < read.size(); ++s) {
    total += read[s];
    failed += failures[s];
  }
  Emit("get_records_per_s", static_cast<double>(total) / elapsed, "records/s");
  Emit("drain_records_read", static_cast<double>(total), "records");
  Emit("drain_records_missing", static_cast<double>(run.acknowledged - total), "records");
  Emit("drain_errors", static_cast<double>(failed), "errors");
  if (total != run.acknowledged) {
    errors.Add("drain_count", "read " + std::to_string(total) + " records, " +
                                  std::to_string(run.acknowledged) + " were acknowledged");
  }
}

// The data of latency sample `index`, sent at `sent_ns` (steady clock): "kinesis_load <index>
// <sent_ns> " padded to the record size.
std::string SampleData(int index, int64_t sent_ns, int record_size) {
  char text[64];
  int n = std::snprintf(text, sizeof text, "kinesis_load %d %lld ", index,
                        static_cast<long long>(sent_ns));
  std::string data(text, static_cast<size_t>(n));
  if (static_cast<int>(data.size()) < record_size)
    data.resize(record_size, '.');
  return data;
}

int64_t SteadyNs(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// d. Put-to-read latency: a writer puts single records with their send time in the data, one
// reader per shard polls from LATEST.
void Latency(Run& run) {
  const Options& opt = run.opt;
  const size_t n_shards = run.shards.size();
  std::vector<std::atomic<int>> seen(static_cast<size_t>(opt.latency_samples));
  std::vector<std::vector<double>> latencies(n_shards);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> received{0};
  std::atomic<int64_t> polls{0};
  std::vector<int64_t> reader_failures(n_shards, 0);
  std::latch ready(static_cast<std::ptrdiff_t>(n_shards) + 1);
  std::vector<std::thread> readers;
  for (size_t s = 0; s < n_shards; ++s) {
    readers.emplace_back([&, s] {
      const std::string& shard = run.shards[s];
      KinesisConnection conn(run.endpoint, run.heads, opt.timeout_ms);
      std::optional<std::string> iterator =
          conn.ShardIterator(opt.stream, shard, "LATEST", "latency_reader");
      ready.count_down();
      if (!iterator) {
        ++reader_failures[s];
        return;
      }
      HttpResponse r;
      std::string error;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!conn.Call("GetRecords", GetRecordsBody(*iterator, 10000), &r, &error)) {
          ++reader_failures[s];
          errors.Add("latency_transport", shard + ": GetRecords: " + error);
          return;
        }
        int64_t now_ns = SteadyNs(Clock::now());
        polls.fetch_add(1, std::memory_order_relaxed);
        if (r.status != 200) {
          ++reader_failures[s];
          errors.Add("latency_http", shard + ": GetRecords: " + DescribeFailure(r));
          return;
        }
        RecordsPage page;
        error = ScanGetRecords(r.body, true, &page);
        if (!error.empty()) {
          ++reader_failures[s];
          errors.Add("latency_malformed", shard + ": " + error);
          return;
        }
        for (const std::string& b64 : page.data) {
          std::optional<std::string> data = Base64Decode(b64);
          int index = -1;
          long long sent_ns = 0;
          if (!data || std::sscanf(data->c_str(), "kinesis_load %d %lld ", &index, &sent_ns) != 2 ||
              index < 0 || index >= opt.latency_samples) {
            errors.Add("latency_foreign_record", shard + ": a record this run did not write");
            continue;
          }
          if (seen[static_cast<size_t>(index)].fetch_add(1) > 0) {
            errors.Add("latency_duplicate",
                       shard + ": sample " + std::to_string(index) + " read twice");
            continue;
          }
          latencies[s].push_back(static_cast<double>(now_ns - sent_ns) / 1e6);
          received.fetch_add(1);
        }
        if (!page.has_next) {
          errors.Add("latency_reader", shard + ": no NextShardIterator");
          return;
        }
        *iterator = std::move(page.next_iterator);
        if (page.records == 0)
          SleepMs(opt.poll_sleep_ms);
      }
    });
  }
  ready.arrive_and_wait();

  // The writer, on this thread.
  KinesisConnection conn(run.endpoint, run.heads, opt.timeout_ms);
  std::string error = conn.Connect();
  if (!error.empty())
    errors.Add("latency_put", error);
  std::mt19937_64 rng(std::random_device{}());
  int64_t acknowledged = 0, put_failures = 0;
  const std::string stream = StreamNameJson(run);
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(1.0 / opt.latency_rate));
  Clock::time_point start = Clock::now();
  int64_t polls_at_start = polls.load();
  HttpResponse r;
  for (int i = 0; i < opt.latency_samples; ++i) {
    std::this_thread::sleep_until(start + i * interval);
    char key[32];
    std::snprintf(key, sizeof key, "lat-%016llx", static_cast<unsigned long long>(rng()));
    Clock::time_point sent = Clock::now();
    std::string body = "{\"StreamName\":" + stream + ",\"Data\":\"" +
                       Base64Encode(SampleData(i, SteadyNs(sent), opt.record_size)) +
                       "\",\"PartitionKey\":\"" + key + "\"}";
    if (!conn.Call("PutRecord", body, &r, &error)) {
      ++put_failures;
      errors.Add("latency_put", "PutRecord: " + error);
    } else if (r.status != 200) {
      ++put_failures;
      errors.Add("latency_put", "PutRecord: " + DescribeFailure(r));
    } else if (FindValue(r.body, "\"SequenceNumber\"", 0) == std::string_view::npos) {
      ++put_failures;
      errors.Add("latency_put", "PutRecord: no SequenceNumber in response");
    } else {
      ++acknowledged;
    }
  }
  double polls_per_s =
      static_cast<double>(polls.load() - polls_at_start) / Seconds(Clock::now() - start);
  // Wait for the stragglers, then stop the readers.
  Clock::time_point wait_until = Clock::now() + std::chrono::seconds(5);
  while (received.load() < acknowledged && Clock::now() < wait_until)
    SleepMs(1);
  stop = true;
  for (std::thread& t : readers)
    t.join();

  std::vector<double> all;
  for (const auto& v : latencies)
    all.insert(all.end(), v.begin(), v.end());
  int64_t failures = put_failures;
  for (int64_t f : reader_failures)
    failures += f;
  int64_t lost = acknowledged - received.load();
  if (lost != 0) {
    errors.Add("latency_lost", std::to_string(lost) + " of " + std::to_string(acknowledged) +
                                   " acknowledged samples not read within 5 s");
  }
  Emit("put_to_read_p50_ms", Percentile(all, 0.50), "ms");
  Emit("put_to_read_p99_ms", Percentile(all, 0.99), "ms");
  Emit("put_to_read_max_ms", all.empty() ? std::nan("") : *std::max_element(all.begin(), all.end()),
       "ms");
  Emit("put_to_read_samples", static_cast<double>(all.size()), "records");
  Emit("put_to_read_lost", static_cast<double>(lost), "records");
  Emit("put_to_read_errors", static_cast<double>(failures), "errors");
  Emit("put_to_read_polls_per_s", polls_per_s, "calls/s");
}

// e. DeleteStream, then wait until it is gone.
void DeleteStream(Run& run) {
  KinesisConnection conn(run.endpoint, run.heads, run.opt.timeout_ms);
  std::string error, type;
  if (!conn.Control("DeleteStream", {{"StreamName", run.opt.stream}}, &error)) {
    errors.Add("delete", error);
    return;
  }
  Clock::time_point deadline = Clock::now() + std::chrono::seconds(10);
  while (true) {
    if (!conn.Control("DescribeStreamSummary", {{"StreamName", run.opt.stream}}, &error, &type)) {
      if (type != "ResourceNotFoundException")
        errors.Add("delete", error);
      return;
    }
    if (Clock::now() > deadline) {
      errors.Add("delete", "stream still exists 10 s after DeleteStream");
      return;
    }
    SleepMs(5);
  }
}

// ---------------------------------------------------------------------------------------------
// Command line.

[[noreturn]] void Usage(const char* problem) {
  if (problem != nullptr)
    std::fprintf(stderr, "kinesis_load: %s\n", problem);
  std::fprintf(
      stderr,
      "usage: kinesis_load --endpoint HOST:PORT --label NAME [options]\n"
      "  --stream NAME            stream to create and delete (default kinesis-load)\n"
      "  --shards N               shards (default 4)\n"
      "  --clients N              concurrent PutRecords clients (default 8)\n"
      "  --seconds S              ingest duration (default 5)\n"
      "  --records-per-call N     records per PutRecords call (default 500)\n"
      "  --record-size BYTES      record data size (default 100)\n"
      "  --latency-samples N      put-to-read samples (default 1000)\n"
      "  --latency-rate PER_S     PutRecord calls per second while sampling (default 200)\n"
      "  --poll-sleep-ms MS       a latency reader's pause after an empty batch (default 1)\n"
      "  --drain-timeout S        give up draining after S seconds (default 60)\n"
      "  --timeout-ms MS          socket send/receive timeout (default 30000)\n"
      "  --reuse                  use the stream if it exists (drains only this run's records)\n"
      "  --keep                   do not delete the stream at the end\n");
  std::exit(2);
}

Options ParseOptions(int argc, char** argv) {
  Options opt;
  std::string endpoint;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        Usage((std::string(arg) + " needs a value").c_str());
      return argv[++i];
    };
    auto number = [&](double min) -> double {
      std::string v = value();
      char* end = nullptr;
      double d = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !(d >= min)) {
        Usage((std::string(arg) + ": not a number >= " + std::to_string(min) + ": " + v).c_str());
      }
      return d;
    };
    if (arg == "--endpoint") {
      endpoint = value();
    } else if (arg == "--label") {
      opt.label = value();
    } else if (arg == "--stream") {
      opt.stream = value();
    } else if (arg == "--shards") {
      opt.shards = static_cast<int>(number(1));
    } else if (arg == "--clients") {
      opt.clients = static_cast<int>(number(1));
    } else if (arg == "--seconds") {
      opt.seconds = number(0.1);
    } else if (arg == "--records-per-call") {
      opt.records_per_call = static_cast<int>(number(1));
    } else if (arg == "--record-size") {
      opt.record_size = static_cast<int>(number(1));
    } else if (arg == "--latency-samples") {
      opt.latency_samples = static_cast<int>(number(1));
    } else if (arg == "--latency-rate") {
      opt.latency_rate = number(0.1);
    } else if (arg == "--poll-sleep-ms") {
      opt.poll_sleep_ms = number(0);
    } else if (arg == "--drain-timeout") {
      opt.drain_timeout_s = number(1);
    } else if (arg == "--timeout-ms") {
      opt.timeout_ms = static_cast<int>(number(1));
    } else if (arg == "--reuse") {
      opt.reuse = true;
    } else if (arg == "--keep") {
      opt.keep = true;
    } else if (arg == "--help" || arg == "-h") {
      Usage(nullptr);
    } else {
      Usage(("unknown argument " + std::string(arg)).c_str());
    }
  }
  if (endpoint.empty())
    Usage("--endpoint is required");
  if (opt.label.empty())
    Usage("--label is required");
  if (endpoint.starts_with("http://"))
    endpoint = endpoint.substr(7);
  while (endpoint.ends_with("/"))
    endpoint.pop_back();
  size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon + 1 == endpoint.size()) {
    Usage("--endpoint must be HOST:PORT");
  }
  opt.host = endpoint.substr(0, colon);
  opt.port = endpoint.substr(colon + 1);
  if (opt.host.size() > 2 && opt.host.front() == '[' && opt.host.back() == ']') {
    opt.host = opt.host.substr(1, opt.host.size() - 2);  // [::1]
  }
  if (opt.stream.empty() || opt.stream.size() > 128 ||
      opt.stream.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "0123456789_.-") != std::string::npos) {
    Usage("--stream must be 1-128 characters of [a-zA-Z0-9_.-]");
  }
  return opt;
}

}  // namespace

int main(int argc, char** argv) {
  Run run;
  run.opt = ParseOptions(argc, argv);
  const Options& opt = run.opt;
  label_json = json(opt.label).dump();
  bool v6 = opt.host.find(':') != std::string::npos;
  run.endpoint = {opt.host, opt.port, (v6 ? "[" + opt.host + "]" : opt.host) + ":" + opt.port};
  run.heads = RequestHeads(run.endpoint);
  std::fprintf(stderr,
               "kinesis_load: %s at %s: stream %s, %d shards, %d clients x %d records x %d "
               "bytes for %.1f s, %d latency samples at %.0f/s\n",
               opt.label.c_str(), run.endpoint.authority.c_str(), opt.stream.c_str(), opt.shards,
               opt.clients, opt.records_per_call, opt.record_size, opt.seconds, opt.latency_samples,
               opt.latency_rate);
  if (CreateStream(run)) {
    Ingest(run);
    Drain(run);
    Latency(run);
    if (!opt.keep)
      DeleteStream(run);
  }
  int64_t total = errors.Total();
  Emit("errors", static_cast<double>(total), "errors");
  if (total > 0) {
    errors.PrintSummary();
    std::fprintf(stderr, "kinesis_load: %s: %lld errors; the figures above are not clean\n",
                 opt.label.c_str(), static_cast<long long>(total));
    return 1;
  }
  return 0;
}
