// kv_document: names, keys and values, every condition op, every update action, and their limits.
#include "state/kv_document.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>

#include "state_test_util.h"

namespace sluice::state::testing {
namespace {

using nlohmann::json;

void RequireInvalid(const Status& status, const std::string& mentions) {
  INFO(status.ToString());
  REQUIRE(status.code() == Code::kInvalidArgument);
  REQUIRE_THAT(status.message(), Catch::Contains(mentions));
}

// `content` in double quotes (no escaping).
std::string JsonString(const std::string& content) {
  std::string quoted(1, '"');
  quoted += content;
  quoted += '"';
  return quoted;
}

std::string Nested(int depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

// Whether the single condition holds for `item`.
bool Holds(const std::optional<json>& item, const pb::KvCondition& condition) {
  const KvConditions conditions = Conditions({condition});
  REQUIRE_OK(ValidateConditions(conditions));
  const Status status = CheckConditions("t", "k", item, conditions);
  if (!status.ok()) {
    INFO(status.ToString());
    REQUIRE(status.code() == Code::kFailedPrecondition);
    REQUIRE_THAT(status.message(), Catch::StartsWith("ConditionalCheckFailed: t/k: "));
  }
  return status.ok();
}

TEST_CASE("table names are 1-255 of [A-Za-z0-9_.-]", "[kv_document]") {
  REQUIRE_OK(ValidateTableName("Orders_2024.v-1"));
  REQUIRE_OK(ValidateTableName(std::string(255, 'a')));
  RequireInvalid(ValidateTableName(""), "table name");
  RequireInvalid(ValidateTableName(std::string(256, 'a')), "1-255");
  RequireInvalid(ValidateTableName("a b"), "table name");
  RequireInvalid(ValidateTableName("a/b"), "table name");
}

TEST_CASE("keys are 1-1024 bytes of valid UTF-8", "[kv_document]") {
  REQUIRE_OK(ValidateKey("k"));
  REQUIRE_OK(ValidateKey("\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87 \xf0\x9f\x94\x91"));
  REQUIRE_OK(ValidateKey(std::string(1024, 'k')));
  RequireInvalid(ValidateKey(""), "key");
  RequireInvalid(ValidateKey(std::string(1025, 'k')), "1025");
  RequireInvalid(ValidateKey("\xff"), "UTF-8");
  RequireInvalid(ValidateKey("\xc0\xaf"), "UTF-8");          // overlong '/'
  RequireInvalid(ValidateKey("\xed\xa0\x80"), "UTF-8");      // a surrogate
  RequireInvalid(ValidateKey("\xf4\x90\x80\x80"), "UTF-8");  // above U+10FFFF
  RequireInvalid(ValidateKey("ab\xe2\x82"), "UTF-8");        // truncated
}

TEST_CASE("values are one JSON document within the size and depth limits", "[kv_document]") {
  REQUIRE(Must(ParseValue(" {\"a\" : [1, 2.5, \"x\"]} ")).dump() == "{\"a\":[1,2.5,\"x\"]}");
  REQUIRE(Must(ParseValue("7")) == json(7));
  RequireInvalid(ParseValue("{").status(), "value_json");
  RequireInvalid(ParseValue("").status(), "value_json");
  RequireInvalid(ParseValue("1 2").status(), "not one valid JSON document");
  RequireInvalid(ParseValue("[1e400]").status(), "out of range");
  RequireInvalid(ParseValue("\"\xff\"").status(), "value_json");

  REQUIRE_OK(ParseValue(Nested(64)).status());
  RequireInvalid(ParseValue(Nested(65)).status(), "nested more than 64");
  // A hostile depth is refused without recursing into it.
  RequireInvalid(ParseValue(Nested(1'000'000 / 2)).status(), "bytes");
  RequireInvalid(ParseValue(Nested(100'000)).status(), "nested");
  // Brackets inside strings are text, not nesting.
  REQUIRE_OK(ParseValue(JsonString(std::string(100, '[') + "\\\"")).status());

  const std::string big = JsonString(std::string(kMaxValueBytes - 2, 'x'));
  REQUIRE_OK(ParseValue(big).status());
  RequireInvalid(ParseValue(JsonString(std::string(kMaxValueBytes - 1, 'x'))).status(),
                 "409601 bytes");
  // The limit holds for the stored (compact) form too: 1e14 is stored as 100000000000000.0.
  std::string growing = "[";
  while (growing.size() < 120'000) {
    growing += "1e14,";
  }
  growing += "1]";
  RequireInvalid(ParseValue(growing).status(), "as stored");
}

TEST_CASE("query arguments and the default limit", "[kv_document]") {
  REQUIRE(Must(ValidateQuery("t", "", 0, "")) == 100);
  REQUIRE(Must(ValidateQuery("t", "p", 1000, "p1")) == 1000);
  RequireInvalid(ValidateQuery("t", "", 1001, "").status(), "limit");
  RequireInvalid(ValidateQuery("t", "\xff", 1, "").status(), "key_prefix");
  RequireInvalid(ValidateQuery("t", "", 1, std::string(1025, 'k')).status(), "exclusive_start_key");
  RequireInvalid(ValidateQuery("", "", 1, "").status(), "table name");
}

TEST_CASE("EXISTS and NOT_EXISTS without an attribute test the item", "[kv_document]") {
  const std::optional<json> item = json{{"a", 1}};
  REQUIRE(Holds(item, Condition("", Op::EXISTS)));
  REQUIRE_FALSE(Holds(std::nullopt, Condition("", Op::EXISTS)));
  REQUIRE(Holds(std::nullopt, Condition("", Op::NOT_EXISTS)));
  REQUIRE_FALSE(Holds(item, Condition("", Op::NOT_EXISTS)));
  // A scalar item exists too.
  REQUIRE(Holds(json(5), Condition("", Op::EXISTS)));
}

TEST_CASE("EXISTS and NOT_EXISTS with an attribute test the member", "[kv_document]") {
  const std::optional<json> item = json{{"a", 1}, {"n", nullptr}};
  REQUIRE(Holds(item, Condition("a", Op::EXISTS)));
  REQUIRE(Holds(item, Condition("n", Op::EXISTS)));  // null is a value
  REQUIRE_FALSE(Holds(item, Condition("b", Op::EXISTS)));
  REQUIRE(Holds(item, Condition("b", Op::NOT_EXISTS)));
  REQUIRE_FALSE(Holds(item, Condition("a", Op::NOT_EXISTS)));
  REQUIRE_FALSE(Holds(std::nullopt, Condition("a", Op::EXISTS)));
  REQUIRE(Holds(std::nullopt, Condition("a", Op::NOT_EXISTS)));
  REQUIRE_FALSE(Holds(json::array({1}), Condition("a", Op::EXISTS)));  // not an object
}

TEST_CASE("EQ and NE compare any JSON values", "[kv_document]") {
  const std::optional<json> item = json::parse(R"({"n":5,"s":"x","o":{"k":[1,2]},"b":true})");
  REQUIRE(Holds(item, Condition("n", Op::EQ, "5")));
  REQUIRE(Holds(item, Condition("n", Op::EQ, "5.0")));  // numerically
  REQUIRE(Holds(item, Condition("n", Op::EQ, "-0.5e1")) == false);
  REQUIRE_FALSE(Holds(item, Condition("n", Op::EQ, "\"5\"")));  // mismatched types
  REQUIRE(Holds(item, Condition("o", Op::EQ, R"({"k":[1,2]})")));
  REQUIRE_FALSE(Holds(item, Condition("o", Op::EQ, R"({"k":[2,1]})")));
  REQUIRE(Holds(item, Condition("b", Op::EQ, "true")));
  REQUIRE(Holds(item, Condition("n", Op::NE, "6")));
  REQUIRE(Holds(item, Condition("n", Op::NE, "\"5\"")));  // different values
  REQUIRE_FALSE(Holds(item, Condition("n", Op::NE, "5")));
  // A comparison with a missing attribute is false, NE included.
  REQUIRE_FALSE(Holds(item, Condition("missing", Op::EQ, "5")));
  REQUIRE_FALSE(Holds(item, Condition("missing", Op::NE, "5")));
  REQUIRE_FALSE(Holds(std::nullopt, Condition("n", Op::NE, "5")));
}

TEST_CASE("LT, LE, GT, GE compare numbers numerically and strings bytewise", "[kv_document]") {
  const std::optional<json> item =
      json::parse(R"({"n":5,"f":2.5,"big":18446744073709551615,"s":"b","u":"é","b":true})");
  REQUIRE(Holds(item, Condition("n", Op::LT, "6")));
  REQUIRE_FALSE(Holds(item, Condition("n", Op::LT, "5")));
  REQUIRE(Holds(item, Condition("n", Op::LE, "5")));
  REQUIRE_FALSE(Holds(item, Condition("n", Op::LE, "4.99")));
  REQUIRE(Holds(item, Condition("n", Op::GT, "4.5")));
  REQUIRE_FALSE(Holds(item, Condition("n", Op::GT, "5")));
  REQUIRE(Holds(item, Condition("n", Op::GE, "5.0")));
  REQUIRE_FALSE(Holds(item, Condition("n", Op::GE, "10")));
  REQUIRE(Holds(item, Condition("f", Op::LT, "3")));
  REQUIRE(Holds(item, Condition("n", Op::GT, "-1")));
  REQUIRE(Holds(item, Condition("big", Op::GT, "9223372036854775807")));
  REQUIRE(Holds(item, Condition("s", Op::GT, "\"a\"")));
  REQUIRE(Holds(item, Condition("s", Op::LT, "\"ba\"")));
  REQUIRE(Holds(item, Condition("s", Op::GT, "\"B\"")));  // bytewise: 'B' < 'b'
  REQUIRE(Holds(item, Condition("u", Op::GT, "\"z\"")));  // bytewise: 0xc3 > 'z'
  // Mismatched types and non-ordered types are false.
  REQUIRE_FALSE(Holds(item, Condition("n", Op::LT, "\"z\"")));
  REQUIRE_FALSE(Holds(item, Condition("s", Op::GT, "1")));
  REQUIRE_FALSE(Holds(item, Condition("b", Op::GE, "false")));
  REQUIRE_FALSE(Holds(item, Condition("missing", Op::LT, "1")));
  REQUIRE_FALSE(Holds(item, Condition("missing", Op::GE, "1")));
}

TEST_CASE("a failed condition names the table, key and condition", "[kv_document]") {
  const KvConditions conditions =
      Conditions({Condition("a", Op::EXISTS), Condition("a", Op::GT, "10")});
  const Status status = CheckConditions("orders", "o-1", json{{"a", 3}}, conditions);
  REQUIRE(status.code() == Code::kFailedPrecondition);
  REQUIRE(status.message() ==
          "ConditionalCheckFailed: orders/o-1: conditions[1] (attribute \"a\" GT 10) does not "
          "hold");
  REQUIRE_OK(CheckConditions("orders", "o-1", json{{"a", 11}}, conditions));
  REQUIRE_OK(CheckConditions("orders", "o-1", std::nullopt, {}));
}

TEST_CASE("badly formed conditions are INVALID_ARGUMENT naming the problem", "[kv_document]") {
  RequireInvalid(ValidateConditions(Conditions({Condition("a", Op::OP_UNSPECIFIED)})),
                 "conditions[0]: op");
  RequireInvalid(ValidateConditions(Conditions({Condition("a", static_cast<Op::Op>(42))})), "op");
  RequireInvalid(ValidateConditions(Conditions({Condition("", Op::EQ, "1")})), "attribute");
  RequireInvalid(
      ValidateConditions(Conditions({Condition("a", Op::EXISTS), Condition("a", Op::LT, "{")})),
      "conditions[1].value_json");
  RequireInvalid(ValidateConditions(Conditions({Condition("a", Op::EXISTS, "1")})),
                 "EXISTS takes no value_json");
  RequireInvalid(ValidateConditions(Conditions({Condition(std::string(256, 'a'), Op::EXISTS)})),
                 "attribute must be 1-255 bytes");
  KvConditions many;
  for (int i = 0; i < 101; ++i) {
    *many.Add() = Condition("a", Op::EXISTS);
  }
  RequireInvalid(ValidateConditions(many), "at most 100");
  many.RemoveLast();
  REQUIRE_OK(ValidateConditions(many));
}

TEST_CASE("badly formed update actions are INVALID_ARGUMENT naming the problem", "[kv_document]") {
  REQUIRE_OK(ValidateUpdateActions(Actions(
      {Action(Kind::SET, "a", "{}"), Action(Kind::ADD, "n", "1.5"), Action(Kind::REMOVE, "x")})));
  RequireInvalid(ValidateUpdateActions({}), "actions: must be 1-100");
  RequireInvalid(ValidateUpdateActions(Actions({Action(Kind::KIND_UNSPECIFIED, "a", "1")})),
                 "actions[0]: kind");
  RequireInvalid(ValidateUpdateActions(Actions({Action(Kind::SET, "", "1")})), "attribute");
  RequireInvalid(ValidateUpdateActions(Actions({Action(Kind::SET, "a", "nope")})),
                 "actions[0].value_json");
  RequireInvalid(ValidateUpdateActions(Actions({Action(Kind::ADD, "a", "\"1\"")})),
                 "ADD needs a number");
  RequireInvalid(ValidateUpdateActions(Actions({Action(Kind::REMOVE, "a", "1")})),
                 "REMOVE takes no value_json");
  KvUpdateActions many;
  for (int i = 0; i < 101; ++i) {
    *many.Add() = Action(Kind::REMOVE, "a");
  }
  RequireInvalid(ValidateUpdateActions(many), "got 101");
}

TEST_CASE("SET, REMOVE and ADD apply in order - a missing item starts as {}", "[kv_document]") {
  const json after = Must(ApplyUpdate(
      std::nullopt, Actions({Action(Kind::SET, "n", "1"), Action(Kind::ADD, "n", "2"),
                             Action(Kind::SET, "s", "\"x\""), Action(Kind::ADD, "fresh", "4"),
                             Action(Kind::SET, "gone", "[1]"), Action(Kind::REMOVE, "gone"),
                             Action(Kind::REMOVE, "never")})));
  REQUIRE(after == json::parse(R"({"n":3,"s":"x","fresh":4})"));
  const json kept = Must(ApplyUpdate(json::parse(R"({"keep":{"deep":true}})"),
                                     Actions({Action(Kind::SET, "a", "1")})));
  REQUIRE(kept == json::parse(R"({"keep":{"deep":true},"a":1})"));
}

TEST_CASE("ADD keeps integers while they fit in int64, otherwise a double", "[kv_document]") {
  const auto add = [](const std::string& start, const std::string& value) {
    return Must(ApplyUpdate(json{{"n", json::parse(start)}},
                            Actions({Action(Kind::ADD, "n", value)})))
        .at("n");
  };
  const json ints = add("40", "2");
  REQUIRE(ints.is_number_integer());
  REQUIRE(ints.dump() == "42");
  REQUIRE(add("-5", "3").dump() == "-2");
  const json mixed = add("1", "0.5");
  REQUIRE(mixed.is_number_float());
  REQUIRE(mixed.get<double>() == 1.5);
  REQUIRE(add("1.5", "1").is_number_float());
  const json overflow = add("9223372036854775807", "1");
  REQUIRE(overflow.is_number_float());
  REQUIRE(overflow.get<double>() == 9223372036854775808.0);
  REQUIRE(add("18446744073709551615", "1").is_number_float());
  RequireInvalid(
      ApplyUpdate(json{{"n", 1e308}}, Actions({Action(Kind::ADD, "n", "1e308")})).status(),
      "finite");
}

TEST_CASE("ApplyUpdate refuses non-objects, ADD to non-numbers and oversized results",
          "[kv_document]") {
  RequireInvalid(ApplyUpdate(json::array(), Actions({Action(Kind::SET, "a", "1")})).status(),
                 "not a JSON object");
  RequireInvalid(ApplyUpdate(json{{"s", "x"}}, Actions({Action(Kind::ADD, "s", "1")})).status(),
                 "ADD to attribute \"s\", which is not a number");
  const std::string half = JsonString(std::string(kMaxValueBytes / 2, 'x'));
  RequireInvalid(ApplyUpdate(std::nullopt,
                             Actions({Action(Kind::SET, "a", half), Action(Kind::SET, "b", half)}))
                     .status(),
                 "the updated item");
  // Nesting grows by one inside the item: 64 levels in a value are 65 in the item.
  RequireInvalid(ApplyUpdate(std::nullopt, Actions({Action(Kind::SET, "a", Nested(64))})).status(),
                 "nested");
  REQUIRE_OK(ApplyUpdate(std::nullopt, Actions({Action(Kind::SET, "a", Nested(63))})).status());
}

}  // namespace
}  // namespace sluice::state::testing
