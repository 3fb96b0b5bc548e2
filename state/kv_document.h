// Key-value items as JSON documents: validation of names, keys and values, conditions and update
// actions. Pure functions, no storage: KvStore (committed items) and EffectStage (staged items)
// both use them, so a condition means the same when a call is made and at commit.
//
// Limits (DynamoDB's where it has one): table names 1-255 of [A-Za-z0-9_.-]; keys 1-1024 bytes
// of valid UTF-8; values valid JSON of at most 400 KiB (kMaxValueBytes) and nesting depth 64;
// 1-100 update actions; at most 100 conditions; attribute names 1-255 bytes.
//
// Conditions follow runtime.proto's KvCondition: EQ and NE compare any JSON values (so values of
// different types are NE), LT/LE/GT/GE only two numbers or two strings (otherwise false), and
// every comparison with a missing attribute is false, NE included.
//
// Errors are INVALID_ARGUMENT "<what>: <problem>", or FAILED_PRECONDITION
// "ConditionalCheckFailed: <table>/<key>: <the condition that failed>" for a condition that does
// not hold. JSON exceptions stop here.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/status.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "sluice/runtime/v1/runtime.pb.h"

namespace sluice::state {

inline constexpr size_t kMaxValueBytes = 400 << 10;
// A query page stops before the item that would take its keys and values past this (DynamoDB's
// 1 MB rule), with at least one item, so a page always fits in a message.
inline constexpr size_t kMaxQueryPageBytes = 1 << 20;

Status ValidateTableName(const std::string& table);
Status ValidateKey(const std::string& key);
// Checks a query's arguments (key_prefix may be empty; exclusive_start_key empty or a valid key;
// limit 0-1000) and returns the limit to use: `limit`, or 100 for 0.
Result<uint32_t> ValidateQuery(const std::string& table, const std::string& key_prefix,
                               uint32_t limit, const std::string& exclusive_start_key);
// Parses a value; INVALID_ARGUMENT when it is not one valid JSON document within the limits,
// which hold for the text and for its compact form (what is stored).
Result<nlohmann::json> ParseValue(const std::string& value_json);

using KvConditions = google::protobuf::RepeatedPtrField<runtime::v1::KvCondition>;
using KvUpdateActions = google::protobuf::RepeatedPtrField<runtime::v1::KvUpdateAction>;

// Checks the form of conditions and actions (ops set, values parse, attributes named where
// needed, ADD values numeric), without an item.
Status ValidateConditions(const KvConditions& conditions);
Status ValidateUpdateActions(const KvUpdateActions& actions);

// OK when every condition holds for `item` (nullopt: no such item); otherwise
// FAILED_PRECONDITION "ConditionalCheckFailed: <table>/<key>: ...".
Status CheckConditions(const std::string& table, const std::string& key,
                       const std::optional<nlohmann::json>& item, const KvConditions& conditions);

// Applies `actions` in order to `item` (a missing item starts as {}). INVALID_ARGUMENT when the
// item is not an object, an ADD meets a non-number, or the result exceeds kMaxValueBytes.
// Integers stay integers while they fit in int64; otherwise the sum is a double.
Result<nlohmann::json> ApplyUpdate(const std::optional<nlohmann::json>& item,
                                   const KvUpdateActions& actions);

}  // namespace sluice::state
