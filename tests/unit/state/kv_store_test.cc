// KvStore: CRUD with versions, conditions, prefix queries with paging, ListTables, and values
// surviving a reopen of the database.
#include "state/kv_store.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "state_test_util.h"

namespace sluice::state::testing {
namespace {

std::vector<std::string> Keys(const KvPage& page) {
  std::vector<std::string> keys;
  for (const KvEntry& entry : page.items) {
    keys.push_back(entry.key);
  }
  return keys;
}

// Every key of a query, page by page of `limit`.
std::vector<std::string> QueryAll(KvStore& kv, const std::string& table, const std::string& prefix,
                                  uint32_t limit, int* pages) {
  std::vector<std::string> keys;
  std::string start;
  *pages = 0;
  do {
    const KvPage page = Must(kv.Query(table, prefix, limit, start));
    REQUIRE(page.items.size() <= limit);
    ++*pages;
    for (const std::string& key : Keys(page)) {
      keys.push_back(key);
    }
    start = page.last_evaluated_key;
    if (!start.empty()) {
      REQUIRE(start == page.items.back().key);
    }
  } while (!start.empty());
  return keys;
}

TEST_CASE("put, get, update and delete - every write bumps the version", "[kv_store]") {
  TestDb test;
  KvStore kv(test.db());
  REQUIRE_FALSE(Must(kv.Get("t", "k")).has_value());

  REQUIRE_OK(kv.Put("t", "k", R"( { "a" : 1 , "b" : [true] } )"));
  std::optional<KvEntry> entry = Must(kv.Get("t", "k"));
  REQUIRE(entry.has_value());
  REQUIRE(entry->key == "k");
  REQUIRE(entry->value_json == R"({"a":1,"b":[true]})");  // stored compact
  REQUIRE(entry->version == 1);

  REQUIRE_OK(kv.Put("t", "k", R"({"a":2})"));
  REQUIRE(Must(kv.Get("t", "k"))->version == 2);

  const std::string updated = Must(
      kv.Update("t", "k", Actions({Action(Kind::ADD, "a", "3"), Action(Kind::SET, "c", "\"x\"")})));
  REQUIRE(updated == R"({"a":5,"c":"x"})");
  entry = Must(kv.Get("t", "k"));
  REQUIRE(entry->value_json == updated);
  REQUIRE(entry->version == 3);

  REQUIRE(Must(kv.Delete("t", "k")) == true);
  REQUIRE_FALSE(Must(kv.Get("t", "k")).has_value());
  REQUIRE(Must(kv.Delete("t", "k")) == false);

  // A new item after a delete starts again at version 1.
  REQUIRE(Must(kv.Update("t", "k", Actions({Action(Kind::ADD, "n", "1")}))) == R"({"n":1})");
  REQUIRE(Must(kv.Get("t", "k"))->version == 1);
}

TEST_CASE("tables are separate", "[kv_store]") {
  TestDb test;
  KvStore kv(test.db());
  REQUIRE_OK(kv.Put("a", "k", "1"));
  REQUIRE_OK(kv.Put("b", "k", "2"));
  REQUIRE(Must(kv.Get("a", "k"))->value_json == "1");
  REQUIRE(Must(kv.Get("b", "k"))->value_json == "2");
  REQUIRE(Keys(Must(kv.Query("a", "", 0))) == std::vector<std::string>{"k"});
}

TEST_CASE("bad arguments are INVALID_ARGUMENT and write nothing", "[kv_store]") {
  TestDb test;
  KvStore kv(test.db());
  REQUIRE(kv.Put("bad table", "k", "1").code() == Code::kInvalidArgument);
  REQUIRE(kv.Put("t", "", "1").code() == Code::kInvalidArgument);
  const Status bad_json = kv.Put("t", "k", "{nope");
  REQUIRE(bad_json.code() == Code::kInvalidArgument);
  REQUIRE_THAT(bad_json.message(), Catch::Contains("value_json"));
  REQUIRE(kv.Put("t", "k", "1", Conditions({Condition("", Op::OP_UNSPECIFIED)})).code() ==
          Code::kInvalidArgument);
  REQUIRE(kv.Update("t", "k", {}).status().code() == Code::kInvalidArgument);
  REQUIRE(kv.Get("t", std::string(1025, 'k')).status().code() == Code::kInvalidArgument);
  REQUIRE(kv.Query("t", "", 1001).status().code() == Code::kInvalidArgument);
  REQUIRE(Must(kv.ListTables()).empty());
}

TEST_CASE("conditions are checked against the committed item", "[kv_store]") {
  TestDb test;
  KvStore kv(test.db());
  REQUIRE_OK(kv.Put("t", "k", R"({"n":1})", Conditions({Condition("", Op::NOT_EXISTS)})));

  const Status again = kv.Put("t", "k", R"({"n":9})", Conditions({Condition("", Op::NOT_EXISTS)}));
  REQUIRE(again.code() == Code::kFailedPrecondition);
  REQUIRE_THAT(again.message(), Catch::StartsWith("ConditionalCheckFailed: t/k: "));
  REQUIRE(Must(kv.Get("t", "k"))->value_json == R"({"n":1})");

  const Result<std::string> stale = kv.Update("t", "k", Actions({Action(Kind::ADD, "n", "1")}),
                                              Conditions({Condition("n", Op::EQ, "0")}));
  REQUIRE(stale.status().code() == Code::kFailedPrecondition);
  REQUIRE(Must(kv.Get("t", "k"))->version == 1);
  REQUIRE(Must(kv.Update("t", "k", Actions({Action(Kind::ADD, "n", "1")}),
                         Conditions({Condition("n", Op::EQ, "1")}))) == R"({"n":2})");

  REQUIRE(kv.Delete("t", "k", Conditions({Condition("n", Op::GT, "5")})).status().code() ==
          Code::kFailedPrecondition);
  REQUIRE(Must(kv.Get("t", "k")).has_value());
  REQUIRE(Must(kv.Delete("t", "k", Conditions({Condition("n", Op::LE, "5")}))));

  // An update that does not apply to the committed item writes nothing.
  REQUIRE_OK(kv.Put("t", "s", R"({"n":"text"})"));
  REQUIRE(kv.Update("t", "s", Actions({Action(Kind::ADD, "n", "1")})).status().code() ==
          Code::kInvalidArgument);
  REQUIRE(Must(kv.Get("t", "s"))->version == 1);
}

TEST_CASE("query returns the keys with the prefix in bytewise order, page by page", "[kv_store]") {
  TestDb test;
  KvStore kv(test.db());
  const std::vector<std::string> keys = {"user#1", "user#10", "user#2", "user#3", "user#4",
                                         "user#5", "user#6",  "user#7", "user#8", "user#9"};
  for (const char* key : {"user#9", "user#10", "user#1", "user#5", "user#3", "user#7", "user#2",
                          "user#8", "user#4", "user#6"}) {
    REQUIRE_OK(kv.Put("t", key, "{}"));
  }
  // Keys just outside the prefix on both sides, and one that only LIKE would match.
  for (const char* key : {"user", "user\"", "user$1", "USER#1", "user#"}) {
    REQUIRE_OK(kv.Put("t", key, "{}"));
  }
  REQUIRE_OK(kv.Put("other", "user#11", "{}"));

  KvPage all = Must(kv.Query("t", "user#", 0));
  std::vector<std::string> expected = {"user#"};
  expected.insert(expected.end(), keys.begin(), keys.end());
  REQUIRE(Keys(all) == expected);
  REQUIRE(all.last_evaluated_key.empty());

  int pages = 0;
  REQUIRE(QueryAll(kv, "t", "user#", 3, &pages) == expected);
  REQUIRE(pages == 4);
  // A last page that is exactly full says no more follow.
  REQUIRE(QueryAll(kv, "t", "user#", 11, &pages) == expected);
  REQUIRE(pages == 1);

  const KvPage after = Must(kv.Query("t", "user#", 2, "user#5"));
  REQUIRE(Keys(after) == std::vector<std::string>{"user#6", "user#7"});
  REQUIRE(after.last_evaluated_key == "user#7");
  // A start key before the prefix, and one after it.
  REQUIRE(Keys(Must(kv.Query("t", "user#", 1, "a"))) == std::vector<std::string>{"user#"});
  REQUIRE(Must(kv.Query("t", "user#", 0, "zzz")).items.empty());

  // "_" and "%" are not wildcards; case matters.
  REQUIRE_OK(kv.Put("t", "a_b", "{}"));
  REQUIRE_OK(kv.Put("t", "axb", "{}"));
  REQUIRE_OK(kv.Put("t", "A_b", "{}"));
  REQUIRE(Keys(Must(kv.Query("t", "a_", 0))) == std::vector<std::string>{"a_b"});
  REQUIRE(Must(kv.Query("t", "%", 0)).items.empty());
  // The empty prefix is every key of the table.
  REQUIRE(Must(kv.Query("t", "", 1000)).items.size() == 18);
}

TEST_CASE("prefixes ending in the highest UTF-8 bytes", "[kv_store]") {
  TestDb test;
  KvStore kv(test.db());
  const std::string top = "\xf4\x8f\xbf\xbf";  // U+10FFFF
  for (const std::string& key :
       std::vector<std::string>{"a" + top, "a" + top + "x", "b", "a" + top + top}) {
    REQUIRE_OK(kv.Put("t", key, "1"));
  }
  REQUIRE(Keys(Must(kv.Query("t", "a" + top, 0))) ==
          std::vector<std::string>{"a" + top, "a" + top + "x", "a" + top + top});
  REQUIRE(Keys(Must(kv.Query("t", "\xc3\xa9", 0))).empty());
}

TEST_CASE("ListTables counts the items of each table", "[kv_store]") {
  TestDb test;
  KvStore kv(test.db());
  REQUIRE(Must(kv.ListTables()).empty());
  REQUIRE_OK(kv.Put("beta", "1", "1"));
  REQUIRE_OK(kv.Put("alpha", "1", "1"));
  REQUIRE_OK(kv.Put("alpha", "2", "1"));
  const std::vector<KvTableSummary> tables = Must(kv.ListTables());
  REQUIRE(tables.size() == 2);
  REQUIRE(tables[0].table == "alpha");
  REQUIRE(tables[0].items == 2);
  REQUIRE(tables[1].table == "beta");
  REQUIRE(tables[1].items == 1);
  // A table exists while it holds an item.
  REQUIRE(Must(kv.Delete("beta", "1")));
  REQUIRE(Must(kv.ListTables()).size() == 1);
}

TEST_CASE("items survive closing and reopening the database", "[kv_store]") {
  TestDb test;
  REQUIRE_OK(KvStore(test.db()).Put("t", "k", R"({"n":1})"));
  REQUIRE_OK(KvStore(test.db()).Put("t", "k", R"({"n":2})"));
  test.Reopen();
  const std::optional<KvEntry> entry = Must(KvStore(test.db()).Get("t", "k"));
  REQUIRE(entry.has_value());
  REQUIRE(entry->value_json == R"({"n":2})");
  REQUIRE(entry->version == 2);
}

}  // namespace
}  // namespace sluice::state::testing
