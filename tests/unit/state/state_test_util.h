// Helpers shared by the state module's unit tests: a real StateDb in a fresh temporary directory
// (removed at the end), a manual clock, a function's configuration, and short ways to build
// conditions and update actions. The tests live in this namespace (in an anonymous one inside it)
// and use these without further declarations.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "base/clock.h"
#include "base/status.h"
#include "invoker/function_config.h"
#include "state/kv_document.h"
#include "state/state_db.h"

namespace sluice::state::testing {

namespace pb = runtime::v1;
using Op = pb::KvCondition;       // Op::EQ, ...
using Kind = pb::KvUpdateAction;  // Kind::SET, ...

// A StateDb at <fresh temporary directory>/sluice.db; the directory goes at the end.
class TestDb {
 public:
  TestDb() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/sluice-state-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      FAIL("mkdtemp " << pattern << " failed");
    }
    dir_ = pattern;
    Reopen();
  }
  ~TestDb() {
    db_.reset();
    std::error_code error;
    std::filesystem::remove_all(dir_, error);
  }
  TestDb(const TestDb&) = delete;
  TestDb& operator=(const TestDb&) = delete;

  // Closes the database and opens it again from its file.
  void Reopen() {
    db_.reset();
    Result<std::unique_ptr<StateDb>> db = StateDb::Open(dir_ + "/sluice.db", DbDurability::kOs);
    INFO(db.status().ToString());
    REQUIRE(db.ok());
    db_ = std::move(*db);
  }

  StateDb* db() { return db_.get(); }
  ManualClock& clock() { return clock_; }

 private:
  std::string dir_;
  std::unique_ptr<StateDb> db_;
  ManualClock clock_;
};

#define REQUIRE_OK(expr)                     \
  do {                                       \
    const ::sluice::Status status_ = (expr); \
    INFO(status_.ToString());                \
    REQUIRE(status_.ok());                   \
  } while (0)

// The value of a Result that must be OK.
template <typename T>
T Must(Result<T> result) {
  INFO(result.status().ToString());
  REQUIRE(result.ok());
  return std::move(*result);
}

inline pb::KvCondition Condition(const std::string& attribute, pb::KvCondition::Op op,
                                 const std::string& value_json = "") {
  pb::KvCondition condition;
  condition.set_attribute(attribute);
  condition.set_op(op);
  condition.set_value_json(value_json);
  return condition;
}

inline KvConditions Conditions(std::initializer_list<pb::KvCondition> list) {
  return KvConditions(list.begin(), list.end());
}

inline pb::KvUpdateAction Action(pb::KvUpdateAction::Kind kind, const std::string& attribute,
                                 const std::string& value_json = "") {
  pb::KvUpdateAction action;
  action.set_kind(kind);
  action.set_attribute(attribute);
  action.set_value_json(value_json);
  return action;
}

inline KvUpdateActions Actions(std::initializer_list<pb::KvUpdateAction> list) {
  return KvUpdateActions(list.begin(), list.end());
}

// Function "fn" with `tables`, which may publish to topic "alerts".
inline invoker::FunctionConfig Function(std::map<std::string, invoker::TableAccess> tables) {
  invoker::FunctionConfig function;
  function.name = "fn";
  function.tables = std::move(tables);
  function.topics = {"alerts"};
  return function;
}

// "xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx".
inline bool IsUuidV4(const std::string& id) {
  if (id.size() != 36) {
    return false;
  }
  for (size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') {
        return false;
      }
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return id[14] == '4' && std::string("89ab").find(id[19]) != std::string::npos;
}

}  // namespace sluice::state::testing
