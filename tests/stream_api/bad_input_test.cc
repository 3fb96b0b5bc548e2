// Bad input to the real `sluice serve`, sent as raw HTTP so the test controls every byte: each
// gets AWS's status, __type and message, and afterwards the server still serves good calls on
// the same keep-alive connection and on a new one. Also: hundreds of concurrent connections.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sluice/base64.h"
#include "stream/resume_token.h"
#include "tests/stream_api/api_test_util.h"
#include "tests/support/kinesis_http.h"
#include "tests/support/sluice_server.h"

using nlohmann::json;
using sluice::Base64Encode;
using namespace sluice::testing;

namespace {

constexpr char kStream[] = "input";

// A server with one 2-shard stream, and a persistent connection to it.
struct Fixture {
  SluiceServer server;
  HttpConnection connection{server.port()};
  int good_calls = 0;

  Fixture() {
    KinesisClient(server.port()).Ok("CreateStream", {{"StreamName", kStream}, {"ShardCount", 2}});
  }

  // A PutRecord, then GetShardIterator AT_SEQUENCE_NUMBER and GetRecords that read it back, on
  // `connection`. Returns "" or what went wrong.
  std::string GoodCalls(HttpConnection& on) {
    const std::string data = "good call " + std::to_string(++good_calls) + std::string("\0\xff", 2);
    const HttpReply put = on.RoundTrip(KinesisRequestBytes(
        "PutRecord",
        json{{"StreamName", kStream}, {"PartitionKey", "good"}, {"Data", Base64Encode(data)}}
            .dump()));
    if (put.status != 200) {
      return "PutRecord: " + put.Describe();
    }
    const json out = put.Json();
    const HttpReply iterator = on.RoundTrip(KinesisRequestBytes(
        "GetShardIterator", json{{"StreamName", kStream},
                                 {"ShardId", out.value("ShardId", "")},
                                 {"ShardIteratorType", "AT_SEQUENCE_NUMBER"},
                                 {"StartingSequenceNumber", out.value("SequenceNumber", "")}}
                                .dump()));
    if (iterator.status != 200) {
      return "GetShardIterator: " + iterator.Describe();
    }
    const HttpReply get = on.RoundTrip(KinesisRequestBytes(
        "GetRecords",
        json{{"ShardIterator", iterator.Json().value("ShardIterator", "")}, {"Limit", 1}}.dump()));
    if (get.status != 200) {
      return "GetRecords: " + get.Describe();
    }
    const json records = get.Json().value("Records", json::array());
    std::string read;
    if (records.size() != 1 || !sluice::Base64Decode(records[0].value("Data", ""), &read) ||
        read != data || records[0].value("SequenceNumber", "") != out.value("SequenceNumber", "")) {
      return "GetRecords did not give the record back: " + get.body;
    }
    return "";
  }

  // After a bad request: the server still serves on the same connection and on a new one.
  void CheckStillServing() {
    INFO("server log:\n" << server.Log());
    REQUIRE(connection.connected());
    CHECK(GoodCalls(connection) == "");
    HttpConnection fresh(server.port());
    REQUIRE(fresh.connected());
    CHECK(GoodCalls(fresh) == "");
  }

  HttpReply Send(const std::string& bytes) { return connection.RoundTrip(bytes); }
};

std::string Request(const std::string& operation, const std::string& body) {
  return KinesisRequestBytes(operation, body);
}

std::string PutRecordBody(const std::string& partition_key, const std::string& data_base64,
                          const std::string& stream = kStream) {
  return json{{"StreamName", stream}, {"PartitionKey", partition_key}, {"Data", data_base64}}
      .dump();
}

// Checks an error answer: HTTP status, __type (also in x-amzn-ErrorType), and the message when
// `message` is not empty (exactly, or as a prefix when it ends with "...").
void CheckError(const HttpReply& reply, int status, const std::string& type,
                const std::string& message = "") {
  INFO("reply: " << reply.Describe());
  REQUIRE(reply.status == status);
  CHECK(reply.ErrorType() == type);
  CHECK(reply.Header("Content-Type") == "application/x-amz-json-1.1");
  CHECK(reply.Message() != "");
  if (message.size() > 3 && message.compare(message.size() - 3, 3, "...") == 0) {
    CHECK(reply.Message().substr(0, message.size() - 3) == message.substr(0, message.size() - 3));
  } else if (!message.empty()) {
    CHECK(reply.Message() == message);
  }
}

std::string Validation(const std::string& value, const std::string& path,
                       const std::string& constraint) {
  return "1 validation error detected: Value '" + value + "' at '" + path +
         "' failed to satisfy constraint: Member must " + constraint;
}

}  // namespace

TEST_CASE("bad input: malformed JSON, JSON that is not an object, an empty body", "[input]") {
  Fixture f;
  for (const std::string& body :
       {std::string("{\"StreamName\": \"input\", "), std::string("{]"), std::string("\"input\""),
        std::string("[]"), std::string("42"), std::string("null"), std::string(""),
        // invalid UTF-8 inside a string: the error must still be JSON
        std::string("{\"StreamName\": \"input\", \"PartitionKey\": "
                    "\"\xff\", \"Data\": \"AAAA\"}")}) {
    INFO("body: " << body);
    CheckError(f.Send(Request("PutRecord", body)), 400, "SerializationException");
    f.CheckStillServing();
  }
}

TEST_CASE("bad input: unknown operation, foreign or missing X-Amz-Target", "[input]") {
  Fixture f;
  const std::string body = PutRecordBody("k", "AAAA");
  CheckError(f.Send(Request("Frobnicate", body)), 400, "UnknownOperationException");
  f.CheckStillServing();
  CheckError(f.Send(HttpRequestBytes({{"Content-Type", "application/x-amz-json-1.1"},
                                      {"X-Amz-Target", "DynamoDB_20120810.PutItem"}},
                                     body)),
             400, "UnknownOperationException");
  f.CheckStillServing();
  CheckError(f.Send(HttpRequestBytes({{"Content-Type", "application/x-amz-json-1.1"}}, body)), 400,
             "UnknownOperationException");
  f.CheckStillServing();
  // Not a POST: refused (AWS answers 403, kinesalite too; any 4xx will do), and nothing breaks.
  const HttpReply get = f.Send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  INFO("GET: " << get.Describe());
  CHECK(get.status >= 400);
  CHECK(get.status < 500);
  f.CheckStillServing();
}

TEST_CASE("bad input: a Content-Type other than application/x-amz-json-1.1 is 404", "[input]") {
  Fixture f;
  const std::string body = PutRecordBody("k", "AAAA");
  for (const std::string& type :
       std::vector<std::string>{"text/plain", "application/xml", "application/json-patch", ""}) {
    INFO("Content-Type: " << type);
    std::vector<std::pair<std::string, std::string>> headers = {
        {"X-Amz-Target", "Kinesis_20131202.PutRecord"}};
    if (!type.empty()) {
      headers.emplace_back("Content-Type", type);
    }
    const HttpReply reply = f.Send(HttpRequestBytes(headers, body));
    INFO("reply: " << reply.Describe());
    CHECK(reply.status == 404);
    CHECK(reply.body.find("UnknownOperationException") != std::string::npos);
    f.CheckStillServing();
  }
  // A charset parameter is fine.
  const HttpReply ok =
      f.Send(HttpRequestBytes({{"Content-Type", "application/x-amz-json-1.1; charset=utf-8"},
                               {"X-Amz-Target", "Kinesis_20131202.PutRecord"}},
                              body));
  CHECK(ok.status == 200);
}

TEST_CASE("bad input: Data that is not canonical base64 is a SerializationException", "[input]") {
  Fixture f;
  for (const std::string& data : std::vector<std::string>{
           "not base64!", "AAE", "AAE=A===", "AB==", "AAA*", "A===", "QUJD\n"}) {
    INFO("Data: " << data);
    CheckError(f.Send(Request("PutRecord", PutRecordBody("k", data))), 400,
               "SerializationException");
    f.CheckStillServing();
    const json batch = {
        {"StreamName", kStream},
        {"Records",
         {{{"PartitionKey", "k"}, {"Data", "AAAA"}}, {{"PartitionKey", "k"}, {"Data", data}}}}};
    CheckError(f.Send(Request("PutRecords", batch.dump())), 400, "SerializationException");
    f.CheckStillServing();
  }
}

TEST_CASE(
    "bad input: a record over 1 MiB is refused with AWS's ValidationException, 1 MiB is "
    "accepted",
    "[input]") {
  Fixture f;
  const std::string max(1 << 20, 'x');
  const HttpReply ok = f.Send(Request("PutRecord", PutRecordBody("k", Base64Encode(max))));
  CHECK(ok.status == 200);
  const std::string over = max + "y";
  CheckError(f.Send(Request("PutRecord", PutRecordBody("k", Base64Encode(over)))), 400,
             "ValidationException",
             Validation("java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]", "data",
                        "have length less than or equal to 1048576"));
  f.CheckStillServing();
  const json batch = {{"StreamName", kStream},
                      {"Records",
                       {{{"PartitionKey", "k"}, {"Data", "AAAA"}},
                        {{"PartitionKey", "k"}, {"Data", Base64Encode(over)}}}}};
  CheckError(f.Send(Request("PutRecords", batch.dump())), 400, "ValidationException",
             Validation("java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]",
                        "records.2.member.data", "have length less than or equal to 1048576"));
  f.CheckStillServing();
}

TEST_CASE(
    "bad input: PutRecords over 500 records or over 5 MiB is refused, exactly at the "
    "limits it is accepted",
    "[input]") {
  Fixture f;
  auto records = [](size_t n, size_t data_bytes) {
    json list = json::array();
    const std::string data = Base64Encode(std::string(data_bytes, 'd'));
    for (size_t i = 0; i < n; ++i) {
      list.push_back(
          {{"PartitionKey", std::string(1, static_cast<char>('a' + i % 26))}, {"Data", data}});
    }
    return json{{"StreamName", kStream}, {"Records", list}}.dump();
  };
  {
    const HttpReply ok = f.Send(Request("PutRecords", records(500, 10)));
    INFO(ok.Describe());
    CHECK(ok.status == 200);
    CHECK(ok.Json().value("FailedRecordCount", -1) == 0);
  }
  {
    const HttpReply reply = f.Send(Request("PutRecords", records(501, 10)));
    CheckError(reply, 400, "ValidationException", "1 validation error detected: Value '...");
    const std::string suffix =
        "' at 'records' failed to satisfy constraint: Member must have length less than or "
        "equal to 500";
    const std::string message = reply.Message();
    CHECK(message.size() > suffix.size());
    CHECK(message.substr(message.size() - std::min(message.size(), suffix.size())) == suffix);
    f.CheckStillServing();
  }
  CheckError(f.Send(Request("PutRecords",
                            json{{"StreamName", kStream}, {"Records", json::array()}}.dump())),
             400, "ValidationException",
             Validation("[]", "records", "have length greater than or equal to 1"));
  f.CheckStillServing();
  {
    // 5 records of 1 MiB - 1 byte with 1-character keys: exactly 5 MiB, accepted.
    const HttpReply ok = f.Send(Request("PutRecords", records(5, (1 << 20) - 1)));
    INFO(ok.Describe());
    CHECK(ok.status == 200);
  }
  // 6 records of 1 MiB: 6 MiB in all, though each is within its own limit.
  CheckError(f.Send(Request("PutRecords", records(6, 1 << 20))), 400, "InvalidArgumentException");
  f.CheckStillServing();
}

TEST_CASE("bad input: partition keys of 0 and 257 characters are refused, 1 and 256 accepted",
          "[input]") {
  Fixture f;
  for (const std::string& key : {std::string("k"), std::string(256, 'k'),
                                 // 256 characters of two bytes each: the limit counts characters
                                 [] {
                                   std::string s;
                                   for (int i = 0; i < 256; ++i)
                                     s += "\xc3\xa9";
                                   return s;
                                 }()}) {
    const HttpReply ok = f.Send(Request("PutRecord", PutRecordBody(key, "AAAA")));
    INFO(ok.Describe());
    CHECK(ok.status == 200);
  }
  CheckError(f.Send(Request("PutRecord", PutRecordBody("", "AAAA"))), 400, "ValidationException",
             Validation("", "partitionKey", "have length greater than or equal to 1"));
  f.CheckStillServing();
  const std::string long_key(257, 'k');
  CheckError(f.Send(Request("PutRecord", PutRecordBody(long_key, "AAAA"))), 400,
             "ValidationException",
             Validation(long_key, "partitionKey", "have length less than or equal to 256"));
  f.CheckStillServing();
  const json batch = {{"StreamName", kStream},
                      {"Records",
                       {{{"PartitionKey", "k"}, {"Data", "AAAA"}},
                        {{"PartitionKey", long_key}, {"Data", "AAAA"}}}}};
  CheckError(f.Send(Request("PutRecords", batch.dump())), 400, "ValidationException",
             Validation(long_key, "records.2.member.partitionKey",
                        "have length less than or equal to 256"));
  f.CheckStillServing();
}

TEST_CASE("bad input: an ExplicitHashKey outside [0, 2^128-1] is refused as AWS refuses it",
          "[input]") {
  Fixture f;
  auto put = [&](const std::string& key) {
    return f.Send(Request("PutRecord", json{{"StreamName", kStream},
                                            {"PartitionKey", "k"},
                                            {"Data", "AAAA"},
                                            {"ExplicitHashKey", key}}
                                           .dump()));
  };
  // Not decimal: the model's pattern.
  for (const std::string key : {"-1", "01", "0x10", "1.5", ""}) {
    INFO("ExplicitHashKey " << key);
    CheckError(put(key), 400, "ValidationException",
               Validation(key, "explicitHashKey",
                          "satisfy regular expression pattern: 0|([1-9]\\d{0,38})"));
    f.CheckStillServing();
  }
  // Decimal, matches the pattern, but 2^128: InvalidArgumentException (wire-formats.md §1.5).
  const std::string too_big = "340282366920938463463374607431768211456";
  CheckError(put(too_big), 400, "InvalidArgumentException",
             "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
             "Specified value was " +
                 too_big);
  f.CheckStillServing();
  const HttpReply max = put(kMaxHashKey);
  INFO(max.Describe());
  CHECK(max.status == 200);
  CHECK(max.Json().value("ShardId", "") == ShardId(1));
}

TEST_CASE("bad input: merging shards that are not adjacent, splitting outside the range",
          "[input]") {
  Fixture f;
  KinesisClient(f.server.port()).Ok("CreateStream", {{"StreamName", "three"}, {"ShardCount", 3}});
  CheckError(f.Send(Request("MergeShards", json{{"StreamName", "three"},
                                                {"ShardToMerge", ShardId(0)},
                                                {"AdjacentShardToMerge", ShardId(2)}}
                                               .dump())),
             400, "InvalidArgumentException",
             "Shards shardId-000000000000 and shardId-000000000002 in stream three under "
             "account 000000000000 are not an adjacent pair of shards eligible for merging");
  f.CheckStillServing();
  for (const std::string key : {"0", "1", "113427455640312821154458202477256070484",
                                "113427455640312821154458202477256070485"}) {
    INFO("NewStartingHashKey " << key);
    CheckError(f.Send(Request("SplitShard", json{{"StreamName", "three"},
                                                 {"ShardToSplit", ShardId(0)},
                                                 {"NewStartingHashKey", key}}
                                                .dump())),
               400, "InvalidArgumentException");
    f.CheckStillServing();
  }
  CheckError(f.Send(Request("SplitShard", json{{"StreamName", "three"},
                                               {"ShardToSplit", ShardId(7)},
                                               {"NewStartingHashKey", "100"}}
                                              .dump())),
             400, "ResourceNotFoundException");
  f.CheckStillServing();
  // Nothing changed.
  CHECK(KinesisClient(f.server.port())
            .Ok("ListShards", {{"StreamName", "three"}})
            .at("Shards")
            .size() == 3);
}

TEST_CASE(
    "edge input that must work: empty data, control characters and Unicode in keys, "
    "pipelined and chunked requests",
    "[input]") {
  Fixture f;
  KinesisClient client(f.server.port());
  client.Ok("CreateStream", {{"StreamName", "edges"}, {"ShardCount", 4}});
  // MD5 of the UTF-8 bytes decides the shard: "\u00e9" -> 1367...2335 (shard 1),
  // "\U0001F600" -> 5584...3062 (shard 0), "0" -> 2762...7850 (shard 3).
  const std::vector<std::pair<std::string, int>> keys = {
      {"\xc3\xa9", 1},
      {"\xf0\x9f\x98\x80", 0},
      {"0", 3},
      {std::string("nul\0 tab\t quote\" backslash\\ \x01", 32), -1}};
  std::map<std::string, std::pair<std::string, std::string>> put;  // key -> shard, seq
  for (const auto& [key, shard] : keys) {
    const json out =
        client.Ok("PutRecord", {{"StreamName", "edges"}, {"PartitionKey", key}, {"Data", ""}});
    if (shard >= 0) {
      CHECK(out.at("ShardId") == ShardId(shard));
    }
    put[key] = {out.at("ShardId"), out.at("SequenceNumber")};
  }
  std::map<std::string, std::pair<std::string, std::string>> read;
  for (int s = 0; s < 4; ++s) {
    for (const ReadRecord& r : ReadWholeShard(client, "edges", ShardId(s))) {
      CHECK(r.data.empty());
      read[r.partition_key] = {ShardId(s), r.sequence_number};
    }
  }
  CHECK(read == put);

  // Two requests in one write: two answers, in order.
  HttpConnection connection(f.server.port());
  REQUIRE(connection.Send(Request("DescribeStreamSummary", json{{"StreamName", "edges"}}.dump()) +
                          Request("ListStreams", "{}")));
  const HttpReply first = connection.Receive();
  const HttpReply second = connection.Receive();
  INFO(first.Describe() << "\n" << second.Describe());
  CHECK(first.status == 200);
  CHECK(first.Json().contains("StreamDescriptionSummary"));
  CHECK(second.status == 200);
  CHECK(second.Json().contains("StreamNames"));

  // A chunked body.
  const std::string body = PutRecordBody("chunked", Base64Encode("chunked body"));
  std::string chunked =
      "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
      "X-Amz-Target: Kinesis_20131202.PutRecord\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t at = 0; at < body.size(); at += 10) {
    const std::string piece = body.substr(at, 10);
    char size[16];
    snprintf(size, sizeof(size), "%zx\r\n", piece.size());
    chunked += size + piece + "\r\n";
  }
  chunked += "0\r\n\r\n";
  const HttpReply reply = connection.RoundTrip(chunked);
  INFO(reply.Describe());
  CHECK(reply.status == 200);
  f.CheckStillServing();
}

TEST_CASE("bad input: an unknown stream is ResourceNotFoundException", "[input]") {
  Fixture f;
  const std::string expected = "Stream no-such-stream under account 000000000000 not found.";
  CheckError(f.Send(Request("PutRecord", PutRecordBody("k", "AAAA", "no-such-stream"))), 400,
             "ResourceNotFoundException", expected);
  f.CheckStillServing();
  for (const char* op : {"DescribeStream", "DescribeStreamSummary", "DeleteStream"}) {
    INFO(op);
    CheckError(f.Send(Request(op, json{{"StreamName", "no-such-stream"}}.dump())), 400,
               "ResourceNotFoundException", expected);
  }
  CheckError(f.Send(Request("GetShardIterator", json{{"StreamName", "no-such-stream"},
                                                     {"ShardId", ShardId(0)},
                                                     {"ShardIteratorType", "TRIM_HORIZON"}}
                                                    .dump())),
             400, "ResourceNotFoundException", expected);
  f.CheckStillServing();
}

TEST_CASE(
    "bad input: a garbage shard iterator is InvalidArgumentException, an expired one "
    "ExpiredIteratorException",
    "[input]") {
  Fixture f;
  for (const std::string& iterator :
       {std::string("garbage"), std::string("AAAAAAAAAAE="), Base64Encode("not an iterator")}) {
    INFO("iterator: " << iterator);
    CheckError(f.Send(Request("GetRecords", json{{"ShardIterator", iterator}}.dump())), 400,
               "InvalidArgumentException", "Invalid ShardIterator.");
    f.CheckStillServing();
  }
  // An iterator issued 5 minutes and 1 second ago: the real one with its issue time moved back
  // (iterators are opaque to clients; the test reuses the server's own encoding to age one).
  KinesisClient client(f.server.port());
  const std::string fresh = client
                                .Ok("GetShardIterator", {{"StreamName", kStream},
                                                         {"ShardId", ShardId(0)},
                                                         {"ShardIteratorType", "TRIM_HORIZON"}})
                                .at("ShardIterator");
  std::optional<sluice::stream::ResumeToken> token = sluice::stream::ResumeToken::Decode(fresh);
  REQUIRE(token.has_value());
  token->issued_ms -= 5 * 60 * 1000 + 1000;
  CheckError(f.Send(Request("GetRecords", json{{"ShardIterator", token->Encode()}}.dump())), 400,
             "ExpiredIteratorException", "Iterator expired...");
  f.CheckStillServing();
  // One that is 4 minutes old still works.
  token->issued_ms += 60 * 1000;
  const HttpReply ok =
      f.Send(Request("GetRecords", json{{"ShardIterator", token->Encode()}}.dump()));
  INFO(ok.Describe());
  CHECK(ok.status == 200);
}

TEST_CASE(
    "bad input: a number, bool, list or object where a string is expected is a "
    "SerializationException",
    "[input]") {
  Fixture f;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"PutRecord", R"({"StreamName": 5, "PartitionKey": "k", "Data": "AAAA"})"},
      {"PutRecord", R"({"StreamName": "input", "PartitionKey": 12, "Data": "AAAA"})"},
      {"PutRecord", R"({"StreamName": "input", "PartitionKey": "k", "Data": 1234})"},
      {"PutRecord", R"({"StreamName": "input", "PartitionKey": true, "Data": "AAAA"})"},
      {"PutRecord", R"({"StreamName": ["input"], "PartitionKey": "k", "Data": "AAAA"})"},
      {"PutRecord", R"({"StreamName": {"a": 1}, "PartitionKey": "k", "Data": "AAAA"})"},
      {"PutRecords",
       R"({"StreamName": "input", "Records": [{"PartitionKey": 1, "Data": "AAAA"}]})"},
      {"PutRecords", R"({"StreamName": "input", "Records": "AAAA"})"},
      {"PutRecords", R"({"StreamName": "input", "Records": ["AAAA"]})"},
      {"CreateStream", R"({"StreamName": "n", "ShardCount": "1"})"},
      {"GetRecords", R"({"ShardIterator": 5})"},
  };
  for (const auto& [operation, body] : cases) {
    INFO(operation << " " << body);
    CheckError(f.Send(Request(operation, body)), 400, "SerializationException");
    f.CheckStillServing();
  }
}

TEST_CASE("bad input: a body over the server's limit is 413, and the connection goes on",
          "[input]") {
  Fixture f;
  // 12 MiB + 1 (KinesisApi::kMaxBodyBytes): bigger than any valid PutRecords.
  std::string body = R"({"StreamName": "input", "PartitionKey": "k", "Data": ")";
  body.append((12u << 20) + 1 - body.size() - 2, 'A');
  body.append("\"}");
  REQUIRE(body.size() == (12u << 20) + 1);
  const HttpReply reply = f.Send(Request("PutRecord", body));
  INFO("reply: " << reply.Describe());
  CHECK(reply.status == 413);
  if (reply.Header("Connection") == "close") {
    f.connection.Close();  // allowed to close; then only the new connection is checked
    HttpConnection fresh(f.server.port());
    CHECK(f.GoodCalls(fresh) == "");
  } else {
    f.CheckStillServing();
  }
}

TEST_CASE("300 concurrent keep-alive connections, 5 requests each, all get answers", "[input]") {
  SluiceServer server;
  KinesisClient(server.port()).Ok("CreateStream", {{"StreamName", "many"}, {"ShardCount", 4}});
  constexpr int kConnections = 300;
  constexpr int kRounds = 5;
  std::vector<std::unique_ptr<HttpConnection>> connections;
  for (int i = 0; i < kConnections; ++i) {
    connections.push_back(std::make_unique<HttpConnection>(server.port()));
    REQUIRE(connections.back()->connected());
  }
  // (built with snprintf: GCC 12 warns falsely about chains of std::string operator+ here)
  auto data_of = [](int connection, int round) {
    char text[64];
    snprintf(text, sizeof(text), "conn %d round %d", connection, round);
    return std::string(text);
  };
  std::map<std::string, std::string> acked;  // data -> sequence number
  std::vector<HttpReply> last(kConnections);
  int answered = 0;
  std::string first_failure;
  auto fail = [&](const std::string& what) {
    if (first_failure.empty()) {
      first_failure = what;
    }
  };
  for (int round = 0; round < kRounds; ++round) {
    // Every connection has a request in flight at once, then every answer is read.
    std::vector<bool> sent(kConnections);
    for (int i = 0; i < kConnections; ++i) {
      const std::string data = data_of(i, round);
      sent[i] = connections[i]->Send(Request("PutRecord", json{{"StreamName", "many"},
                                                               {"PartitionKey", std::to_string(i)},
                                                               {"Data", Base64Encode(data)}}
                                                              .dump()));
      if (!sent[i]) {
        std::string headers;
        for (const auto& [name, value] : last[i].headers) {
          headers += name + ": " + value + "; ";
        }
        fail("round " + std::to_string(round) + ", connection " + std::to_string(i) +
             ": cannot send (" + std::strerror(errno) +
             "); still open: " + (connections[i]->connected() ? "yes" : "no") +
             "; its last answer: " + last[i].Describe() + " with headers " + headers);
      }
    }
    for (int i = 0; i < kConnections; ++i) {
      if (!sent[i]) {
        continue;
      }
      last[i] = connections[i]->Receive();
      if (last[i].status == 200) {
        ++answered;
        acked[data_of(i, round)] = last[i].Json().value("SequenceNumber", "");
      } else {
        fail("round " + std::to_string(round) + ", connection " + std::to_string(i) + ": " +
             last[i].Describe());
      }
    }
  }
  INFO("first failure: " << first_failure);
  CHECK(answered == kConnections * kRounds);
  for (const auto& c : connections) {
    CHECK(c->connected());
  }
  connections.clear();
  // Every record is stored once, with the number it was acknowledged with.
  KinesisClient reader(server.port());
  std::map<std::string, std::string> read;
  for (int s = 0; s < 4; ++s) {
    for (const ReadRecord& r : ReadWholeShard(reader, "many", ShardId(s))) {
      CHECK(read.emplace(r.data, r.sequence_number).second);
    }
  }
  std::string difference;
  for (const auto& [data, seq] : read) {
    auto it = acked.find(data);
    if (it == acked.end()) {
      difference += "stored, not acknowledged: '" + data + "' " + seq + "\n";
    } else if (it->second != seq) {
      difference += "'" + data + "' acknowledged as " + it->second + ", stored as " + seq + "\n";
    }
  }
  for (const auto& [data, seq] : acked) {
    if (!read.count(data)) {
      difference += "acknowledged, not stored: '" + data + "' " + seq + "\n";
    }
  }
  INFO(difference);
  CHECK(read.size() == acked.size());
  CHECK(difference.empty());
}
