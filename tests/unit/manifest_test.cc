#include "host/manifest.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using sluice::host::ParseManifest;

namespace {

// A temporary function directory with an executable "handler" and a data file.
class FunctionDir {
 public:
  FunctionDir() {
    char tmpl[] = "/tmp/sluice-manifest-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    fs::copy_file("/bin/true", dir_ + "/handler");
    std::ofstream(dir_ + "/script") << "#!/bin/sh\necho hi\n";
    ::chmod((dir_ + "/script").c_str(), 0755);
    std::ofstream(dir_ + "/data.csv") << "a,b\n";
    std::ofstream(dir_ + "/not-exec") << "x";
  }
  ~FunctionDir() { fs::remove_all(dir_); }
  const std::string& path() const { return dir_; }

 private:
  std::string dir_;
};

// The error message for `text`, or "OK".
std::string ErrorOf(const FunctionDir& dir, const std::string& text) {
  auto m = ParseManifest(text, dir.path(), "function.json");
  return m.ok() ? "OK" : m.status().message();
}

}  // namespace

TEST_CASE("a minimal manifest gets Lambda's defaults", "[manifest]") {
  FunctionDir dir;
  auto m = ParseManifest(R"({"FunctionName": "f1", "Handler": "handler"})", dir.path(), "f.json");
  REQUIRE(m.ok());
  CHECK(m->config.name == "f1");
  CHECK(m->config.timeout == std::chrono::seconds(3));
  CHECK(m->config.memory_mb == 128);
  CHECK(m->config.ephemeral_storage_mb == 512);
  CHECK(m->config.max_concurrency == 16);
  CHECK(m->config.arn == "arn:aws:lambda:local:000000000000:function:f1");
  CHECK(m->files == std::vector<std::string>{"handler"});
}

TEST_CASE("a full manifest is read field by field", "[manifest]") {
  FunctionDir dir;
  auto m = ParseManifest(R"({"FunctionName": "f", "Handler": "./handler", "Timeout": 900,
      "MemorySize": 10240, "EphemeralStorage": {"Size": 1024},
      "Environment": {"Variables": {"LEVEL": "debug"}}, "ReservedConcurrentExecutions": 0,
      "Files": ["data.csv"], "Description": "d"})",
                         dir.path(), "f.json");
  REQUIRE(m.ok());
  CHECK(m->config.handler == "handler");
  CHECK(m->config.timeout == std::chrono::seconds(900));
  CHECK(m->config.memory_mb == 10240);
  CHECK(m->config.ephemeral_storage_mb == 1024);
  CHECK(m->config.environment.at("LEVEL") == "debug");
  CHECK(m->config.max_concurrency == 0);
  CHECK(m->files == std::vector<std::string>{"handler", "data.csv"});
}

TEST_CASE("bad manifests name the property and the problem", "[manifest]") {
  FunctionDir dir;
  CHECK(ErrorOf(dir, "{") ==
        "function.json: not valid JSON: line 1, column 2: syntax error while parsing object key - "
        "unexpected end of input; expected string literal");
  // Where in a longer file.
  CHECK(ErrorOf(dir, "{\"FunctionName\": \"x\",\n \"Handler\": \"x\",,\n}")
            .rfind("function.json: not valid JSON: line 2, column 17: ", 0) == 0);
  CHECK(ErrorOf(dir, R"({"Handler": "handler"})") ==
        "function.json: FunctionName: required, a string");
  CHECK(ErrorOf(dir, R"({"FunctionName": "a b", "Handler": "handler"})") ==
        "function.json: FunctionName: must be 1-64 letters, digits, '-' or '_', got \"a b\"");
  CHECK(ErrorOf(dir, R"({"FunctionName": "f"})") ==
        "function.json: Handler: required, the executable's path relative to the manifest");
  CHECK(ErrorOf(dir, R"({"FunctionName": "f", "Handler": "missing"})") ==
        "function.json: Handler: \"missing\" does not exist in " + dir.path());
  CHECK(ErrorOf(dir, R"({"FunctionName": "f", "Handler": "not-exec"})") ==
        "function.json: Handler: \"not-exec\" is not an executable file");
  CHECK(ErrorOf(dir, R"({"FunctionName": "f", "Handler": "script"})") ==
        "function.json: Handler: \"script\" is not an ELF binary (scripts cannot run: the "
        "sandbox has no interpreter)");
  CHECK(ErrorOf(dir, R"({"FunctionName": "f", "Handler": "/bin/true"})") ==
        "function.json: Handler: must be relative to the manifest's directory, got \"/bin/true\"");
  CHECK(ErrorOf(dir, R"({"FunctionName": "f", "Handler": "../x"})") ==
        "function.json: Handler: must stay inside the manifest's directory (no \"..\"), got "
        "\"../x\"");
  CHECK(ErrorOf(dir, R"({"FunctionName": "f", "Handler": "handler", "Timeout": 0})") ==
        "function.json: Timeout: must be from 1 to 900 seconds, got 0");
  CHECK(ErrorOf(dir, R"({"FunctionName": "f", "Handler": "handler", "Timeout": "3"})") ==
        "function.json: Timeout: must be an integer from 1 to 900 seconds, got \"3\"");
  CHECK(ErrorOf(dir, R"({"FunctionName": "f", "Handler": "handler", "MemorySize": 64})") ==
        "function.json: MemorySize: must be from 128 to 10240 MB, got 64");
  CHECK(ErrorOf(dir, R"({"FunctionName": "f", "Handler": "handler",
                         "EphemeralStorage": {"Size": 100}})") ==
        "function.json: EphemeralStorage: Size: must be from 512 to 10240 MB, got 100");
  CHECK(ErrorOf(dir, R"({"FunctionName": "f", "Handler": "handler", "Timout": 3})")
            .find("function.json: unknown property \"Timout\"") == 0);
  CHECK(ErrorOf(dir, R"({"FunctionName": "f", "Handler": "handler",
                         "Environment": {"Variables": {"SLUICE_X": "1"}}})") ==
        "function.json: Environment.Variables.SLUICE_X: reserved name (SLUICE_*, AWS_* and "
        "LAMBDA_* are set by the host)");
  CHECK(ErrorOf(dir, R"({"FunctionName": "f", "Handler": "handler",
                         "Environment": {"Variables": {"N": 1}}})") ==
        "function.json: Environment.Variables.N: must be a string");
  fs::create_symlink("/etc", dir.path() + "/etc-link");
  CHECK(ErrorOf(dir, R"({"FunctionName": "f", "Handler": "handler", "Files": ["etc-link"]})") ==
        "function.json: Files[0]: \"etc-link\" leads outside the manifest's directory (through a "
        "symlink)");
  CHECK(ErrorOf(dir, R"({"FunctionName": "f", "Handler": "handler", "Files": ["nope"]})") ==
        "function.json: Files[0]: \"nope\" does not exist in " + dir.path());
  CHECK(ErrorOf(dir, R"({"FunctionName": "f", "Handler": "handler",
                         "ReservedConcurrentExecutions": -1})") ==
        "function.json: ReservedConcurrentExecutions: must be from 0 to 1000, got -1");
}

TEST_CASE("staging copies the handler and files, readable by anyone", "[manifest]") {
  FunctionDir dir;
  // A link inside a shipped directory is copied as a link; what it names is left alone.
  fs::create_directory(dir.path() + "/data");
  const std::string outside = dir.path() + "/outside-secret";
  std::ofstream(outside) << "secret";
  fs::permissions(outside, fs::perms(0600));
  fs::create_symlink(outside, dir.path() + "/data/link");
  auto m =
      ParseManifest(R"({"FunctionName": "f", "Handler": "handler", "Files": ["data.csv", "data"]})",
                    dir.path(), "f.json");
  REQUIRE(m.ok());
  const std::string code = dir.path() + "/staged/code";
  REQUIRE(sluice::host::StageFunctionFiles(*m, code).ok());
  CHECK(fs::exists(code + "/handler"));
  CHECK(fs::exists(code + "/data.csv"));
  CHECK_FALSE(fs::exists(code + "/not-exec"));
  CHECK((fs::status(code + "/data.csv").permissions() & fs::perms::others_read) != fs::perms::none);
  CHECK((fs::status(code + "/handler").permissions() & fs::perms::owner_exec) != fs::perms::none);
  CHECK(fs::is_symlink(code + "/data/link"));
  CHECK(fs::status(outside).permissions() == fs::perms(0600));  // not made world-readable
}

TEST_CASE("Tables and Topics grant host services", "[manifest]") {
  FunctionDir dir;
  auto m = ParseManifest(R"({"FunctionName": "f", "Handler": "handler", "Description": "d",
      "Tables": {"spend": "ReadWrite", "thresholds": "Read"}, "Topics": ["billing-alerts"]})",
                         dir.path(), "f.json");
  REQUIRE(m.ok());
  CHECK(m->description == "d");
  CHECK(m->config.tables == std::map<std::string, sluice::invoker::TableAccess>{
                                {"spend", sluice::invoker::TableAccess::kReadWrite},
                                {"thresholds", sluice::invoker::TableAccess::kRead}});
  CHECK(m->config.topics == std::set<std::string>{"billing-alerts"});

  const std::string base = R"({"FunctionName": "f", "Handler": "handler", )";
  CHECK(ErrorOf(dir, base + R"("Tables": ["spend"]})") ==
        "function.json: Tables: must be an object like {\"spend\": \"ReadWrite\"}");
  CHECK(ErrorOf(dir, base + R"("Tables": {"spend": "Write"}})") ==
        "function.json: Tables.spend: must be \"Read\" or \"ReadWrite\", got \"Write\"");
  CHECK(ErrorOf(dir, base + R"("Tables": {"bad table": "Read"}})")
            .rfind("function.json: Tables.bad table: ", 0) == 0);
  CHECK(ErrorOf(dir, base + R"("Topics": "alerts"})") ==
        "function.json: Topics: must be an array of topic names");
  CHECK(ErrorOf(dir, base + R"("Topics": [7]})") == "function.json: Topics[0]: must be a string");
  CHECK(ErrorOf(dir, base + R"("Topics": ["bad topic"]})").rfind("function.json: Topics[0]: ", 0) ==
        0);
}
