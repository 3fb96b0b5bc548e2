// DirectoryStore on a real directory (a fresh temporary one per test): objects are whole files at
// their keys, replaced in place, with no temporary files left, and no key reaches outside the root.
#include "delivery/directory_store.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/unit/stream/stream_test_util.h"

namespace sluice::delivery {
namespace {

using stream::testing::ReadBytes;
using stream::testing::TempDir;
using stream::testing::WriteBytes;

// Every regular file under `dir`, as paths relative to it, sorted.
std::vector<std::string> FilesUnder(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      files.push_back(std::filesystem::relative(entry.path(), dir).string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST_CASE("a put object is the file at its key, under directories made for it") {
  TempDir tmp;
  const std::string root = tmp / "lake/tolls";  // neither exists yet
  DirectoryStore store(root);
  const std::string body("gz\0bytes\n", 9);
  const Status put = store.Put("raw/2026/11/22/10/tolls-1-2026-11-22-10-20-30-x.gz", body);
  INFO(put.ToString());
  REQUIRE(put.ok());

  CHECK(ReadBytes(root + "/raw/2026/11/22/10/tolls-1-2026-11-22-10-20-30-x.gz") == body);
  CHECK(FilesUnder(tmp.path()) ==
        std::vector<std::string>{"lake/tolls/raw/2026/11/22/10/tolls-1-2026-11-22-10-20-30-x.gz"});
  Result<std::string> got = store.Get("raw/2026/11/22/10/tolls-1-2026-11-22-10-20-30-x.gz");
  REQUIRE(got.ok());
  CHECK(*got == body);
  CHECK(store.Describe() == "file://" + root);
}

TEST_CASE("putting a key again replaces its object and leaves no temporary file") {
  TempDir tmp;
  DirectoryStore store(tmp.path());
  REQUIRE(store.Put("a/b", "first, longer body").ok());
  REQUIRE(store.Put("a/b", "second").ok());
  REQUIRE(store.Put("a/c", "").ok());

  CHECK(ReadBytes(tmp / "a/b") == "second");
  CHECK(ReadBytes(tmp / "a/c").empty());
  CHECK(FilesUnder(tmp.path()) == std::vector<std::string>{"a/b", "a/c"});
}

TEST_CASE("getting a missing object, or a prefix, is NOT_FOUND") {
  TempDir tmp;
  DirectoryStore store(tmp / "never-made");
  CHECK(store.Get("a/b").status().code() == Code::kNotFound);

  DirectoryStore lake(tmp.path());
  REQUIRE(lake.Put("a/b/c", "x").ok());
  CHECK(lake.Get("a/b").status().code() == Code::kNotFound);
  CHECK(lake.Get("a/b/c/d").status().code() == Code::kNotFound);
  const Result<std::string> missing = lake.Get("a/b/d");
  CHECK(missing.status().code() == Code::kNotFound);
  CHECK_THAT(missing.status().message(), Catch::Contains("a/b/d"));
}

TEST_CASE("a key that could leave the root or name no file is refused") {
  TempDir tmp;
  const std::string root = tmp / "lake";
  DirectoryStore store(root);
  WriteBytes(tmp / "outside", "keep");
  const std::vector<std::string> bad = {
      "",     "/outside", "../outside", "a/../../outside",     "a/./b", ".", "..",
      "a//b", "a/",       "/",          std::string("a\0b", 3)};
  for (const std::string& key : bad) {
    INFO("key: " << key);
    CHECK(ValidateObjectKey(key).code() == Code::kInvalidArgument);
    CHECK(store.Put(key, "x").code() == Code::kInvalidArgument);
    CHECK(store.Get(key).status().code() == Code::kInvalidArgument);
  }
  CHECK(ReadBytes(tmp / "outside") == "keep");
  CHECK(FilesUnder(tmp.path()) == std::vector<std::string>{"outside"});
}

TEST_CASE("keys with dots inside their segments are ordinary names") {
  for (const std::string key : {"a", ".hidden", "..a/b..", "a/b.c/...", "2026/11/x-1.json.gz"}) {
    INFO("key: " << key);
    CHECK(ValidateObjectKey(key).ok());
  }
  TempDir tmp;
  DirectoryStore store(tmp.path());
  REQUIRE(store.Put("..a/b..", "dots").ok());
  CHECK(ReadBytes(tmp / "..a/b..") == "dots");
}

TEST_CASE("a put that cannot make its file fails and names the store and key") {
  TempDir tmp;
  DirectoryStore store(tmp.path());
  REQUIRE(store.Put("a", "a file where a directory would go").ok());
  const Status put = store.Put("a/b", "x");
  CHECK_FALSE(put.ok());
  CHECK_THAT(put.message(), Catch::Contains("a/b") && Catch::Contains("file://" + tmp.path()));
  CHECK(FilesUnder(tmp.path()) == std::vector<std::string>{"a"});
}

}  // namespace
}  // namespace sluice::delivery
