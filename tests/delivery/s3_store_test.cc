// S3Store against a real s3rver on loopback, and against the aws CLI as a second S3 client.
#include "delivery/s3_store.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "tests/support/run_command.h"
#include "tests/support/s3rver.h"

namespace sluice::delivery {
namespace {

using testing::CommandResult;
using testing::RunCommand;
using testing::S3rver;

constexpr char kBucket[] = "lake";
constexpr char kRegion[] = "us-east-1";

// s3rver's one account.
S3Credentials S3rverCredentials() {
  return {"S3RVER", "S3RVER", ""};
}

S3Store StoreFor(const S3rver& server, const std::string& bucket = kBucket) {
  return S3Store(server.endpoint(), bucket, kRegion, S3rverCredentials());
}

// Every byte value, twice.
std::string AllBytes() {
  std::string bytes;
  for (int round = 0; round < 2; ++round) {
    for (int b = 0; b < 256; ++b) {
      bytes.push_back(static_cast<char>(b));
    }
  }
  return bytes;
}

// The aws CLI against `server`, as s3rver's account.
CommandResult Aws(const S3rver& server, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/env",
                                   "AWS_ACCESS_KEY_ID=S3RVER",
                                   "AWS_SECRET_ACCESS_KEY=S3RVER",
                                   "AWS_DEFAULT_REGION=us-east-1",
                                   "AWS_EC2_METADATA_DISABLED=true",
                                   AWS_BIN,
                                   "--endpoint-url",
                                   server.endpoint()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

TEST_CASE("S3Store puts and gets objects with any bytes and keys", "[s3]") {
  S3rver server({kBucket});
  S3Store store = StoreFor(server);
  const std::string binary = AllBytes();
  const std::vector<std::pair<std::string, std::string>> objects = {
      {"plain.txt", "hello"},
      {"binary.bin", binary},
      {"empty", ""},
      {"with spaces/and+plus=equals&amp", "spaces"},
      {"unicode/\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80.gz", "unicode"},
      {"prefix/2026/11/22/10/stream-1-2026-11-22-10-20-30-uuid.gz", "nested"},
  };
  for (const auto& [key, body] : objects) {
    INFO(key);
    REQUIRE(store.Put(key, body).ok());
  }
  for (const auto& [key, body] : objects) {
    INFO(key);
    Result<std::string> got = store.Get(key);
    REQUIRE(got.ok());
    CHECK(*got == body);
  }
}

TEST_CASE("S3Store putting a key again replaces the object", "[s3]") {
  S3rver server({kBucket});
  S3Store store = StoreFor(server);
  REQUIRE(store.Put("k", "first, and longer").ok());
  REQUIRE(store.Put("k", "second").ok());
  Result<std::string> got = store.Get("k");
  REQUIRE(got.ok());
  CHECK(*got == "second");
}

TEST_CASE("S3Store Get of a missing key is NOT_FOUND with S3's code", "[s3]") {
  S3rver server({kBucket});
  S3Store store = StoreFor(server);
  Result<std::string> got = store.Get("no/such/key");
  REQUIRE_FALSE(got.ok());
  CHECK(got.status().code() == Code::kNotFound);
  CHECK_THAT(got.status().message(),
             Catch::Contains("NoSuchKey") && Catch::Contains("s3://lake/no/such/key"));
}

TEST_CASE("S3Store Put into a missing bucket is NOT_FOUND with S3's code", "[s3]") {
  S3rver server({kBucket});
  S3Store store = StoreFor(server, "no-such-bucket");
  const Status put = store.Put("k", "v");
  CHECK(put.code() == Code::kNotFound);
  CHECK_THAT(put.message(), Catch::Contains("NoSuchBucket") &&
                                Catch::Contains("The specified bucket does not exist"));
}

TEST_CASE("S3Store with an unknown access key is PERMISSION_DENIED", "[s3]") {
  S3rver server({kBucket});
  S3Store store(server.endpoint(), kBucket, kRegion, {"NOT-S3RVER", "S3RVER", ""});
  const Status put = store.Put("k", "v");
  CHECK(put.code() == Code::kPermissionDenied);
  CHECK_THAT(put.message(), Catch::Contains("InvalidAccessKeyId"));
}

TEST_CASE("S3Store with its server down is UNAVAILABLE", "[s3]") {
  std::optional<S3rver> server(std::in_place, std::vector<std::string>{kBucket});
  S3Store store = StoreFor(*server);
  REQUIRE(store.Put("k", "v").ok());
  server.reset();  // killed and reaped: its port now refuses connections

  const Status put = store.Put("k", "v");
  CHECK(put.code() == Code::kUnavailable);
  CHECK_THAT(put.message(), Catch::Contains("s3://lake/k"));
  CHECK(store.Get("k").status().code() == Code::kUnavailable);
}

TEST_CASE("An object S3Store put is read back by the aws CLI, and the other way round", "[s3]") {
  S3rver server({kBucket});
  S3Store store = StoreFor(server);
  const std::string key = "delivered/2026/11/22/a b \xc3\xbc.bin";
  const std::string body = AllBytes();
  REQUIRE(store.Put(key, body).ok());

  const std::string out = server.directory() + "/../aws-get.out";
  const CommandResult get =
      Aws(server, {"s3api", "get-object", "--bucket", kBucket, "--key", key, out});
  INFO(get.out << get.err);
  REQUIRE(get.exit_code == 0);
  CHECK(ReadWhole(out) == body);

  const std::string in = server.directory() + "/../aws-put.in";
  std::ofstream(in, std::ios::binary) << "from the aws CLI";
  const CommandResult put =
      Aws(server, {"s3api", "put-object", "--bucket", kBucket, "--key", "cli/put", "--body", in});
  INFO(put.out << put.err);
  REQUIRE(put.exit_code == 0);
  Result<std::string> got = store.Get("cli/put");
  REQUIRE(got.ok());
  CHECK(*got == "from the aws CLI");
}

// Sets or unsets the AWS credential variables for one test, and restores them after it.
class CredentialEnvironment {
 public:
  CredentialEnvironment() {
    for (const char* name : kNames) {
      const char* value = std::getenv(name);
      saved_.push_back(value == nullptr ? std::nullopt : std::optional<std::string>(value));
      ::unsetenv(name);
    }
  }
  ~CredentialEnvironment() {
    for (size_t i = 0; i < saved_.size(); ++i) {
      if (saved_[i]) {
        ::setenv(kNames[i], saved_[i]->c_str(), 1);
      } else {
        ::unsetenv(kNames[i]);
      }
    }
  }

 private:
  static constexpr const char* kNames[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                           "AWS_SESSION_TOKEN"};
  std::vector<std::optional<std::string>> saved_;
};

TEST_CASE("S3 credentials come from the environment", "[s3]") {
  CredentialEnvironment environment;
  Result<S3Credentials> none = S3CredentialsFromEnvironment();
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().code() == Code::kFailedPrecondition);
  CHECK_THAT(none.status().message(), Catch::Contains("AWS_ACCESS_KEY_ID"));

  ::setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
  Result<S3Credentials> no_secret = S3CredentialsFromEnvironment();
  REQUIRE_FALSE(no_secret.ok());
  CHECK_THAT(no_secret.status().message(), Catch::Contains("AWS_SECRET_ACCESS_KEY"));

  ::setenv("AWS_SECRET_ACCESS_KEY", "SECRET", 1);
  Result<S3Credentials> without_token = S3CredentialsFromEnvironment();
  REQUIRE(without_token.ok());
  CHECK(without_token->access_key_id == "AKID");
  CHECK(without_token->secret_access_key == "SECRET");
  CHECK(without_token->session_token.empty());

  ::setenv("AWS_SESSION_TOKEN", "TOKEN", 1);
  Result<S3Credentials> with_token = S3CredentialsFromEnvironment();
  REQUIRE(with_token.ok());
  CHECK(with_token->session_token == "TOKEN");
}

}  // namespace
}  // namespace sluice::delivery
