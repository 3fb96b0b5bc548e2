// billing_threshold: keeps each ABC Tolls customer's spend for the month and notifies once when
// it reaches the customer's monthly limit.
//
// Each record is a toll transaction, JSON:
//   {"transaction_id": "T-1", "customer_id": "C-1001", "station_id": "S-07",
//    "amount": 2.50, "event_time": "2026-11-22T08:00:05Z"}
// Tables:
//   spend       "<customer>#<YYYY-MM>" -> {"cents": N}        (ReadWrite: the running total)
//   thresholds  "<customer>"           -> {"monthly_limit": 25.00}  (Read: set by the mobile app,
//                                                                   `sluice kv put`)
//   notified    "<customer>#<YYYY-MM>" -> {"at_cents": N}     (ReadWrite: one notification each)
// Topic: billing-alerts, message {"customer_id", "month", "spend", "monthly_limit"}.
//
// Exactly once without luck: the host commits the spend, the marker and the notification
// together, only when the record succeeds. The spend is updated on the condition that it is
// still what this invoke read, so the decision to notify is made on the true total even when
// two shards update one customer at once (the second commit fails its condition, and the retry
// reads the first's total); the marker is written with NotExists, so a customer and month is
// notified once. A malformed record fails, and is reported as the batch's item failure.
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "sluice/function.h"

namespace {

using nlohmann::json;

// A toll's amount (or a limit) in cents: a number from 0 to 1,000,000.00.
int64_t Cents(const json& amount) {
  if (!amount.is_number() || !(amount.get<double>() >= 0 && amount.get<double>() <= 1e6)) {
    throw std::invalid_argument("amount must be a number from 0 to 1000000, got " + amount.dump());
  }
  return std::llround(amount.get<double>() * 100);
}

void HandleToll(const sluice::KinesisRecord& record, sluice::Context& ctx) {
  const json toll = json::parse(record.data(), nullptr, /*allow_exceptions=*/false);
  if (!toll.is_object() || !toll.contains("customer_id") || !toll["customer_id"].is_string() ||
      !toll.contains("event_time") || !toll["event_time"].is_string() ||
      toll["event_time"].get<std::string>().size() < 7) {
    throw std::invalid_argument("not a toll transaction: " + record.data().substr(0, 200));
  }
  const std::string customer = toll["customer_id"];
  const std::string month = toll["event_time"].get<std::string>().substr(0, 7);
  const std::string key = customer + "#" + month;
  const int64_t cents = Cents(toll.value("amount", json()));

  // The spend as this invoke sees it, and an update that holds only if it is still that.
  const std::optional<std::string> before = ctx.kv().Get("spend", key);
  const int64_t seen = before ? json::parse(*before).value("cents", int64_t{0}) : 0;
  const sluice::kv::Condition unchanged =
      before ? sluice::kv::Compare("cents", sluice::kv::Condition::EQ, std::to_string(seen))
             : sluice::kv::NotExists();
  const json spend = json::parse(ctx.kv().Update(
      "spend", key, {sluice::kv::Add("cents", std::to_string(cents))}, {unchanged}));
  const std::optional<std::string> threshold = ctx.kv().Get("thresholds", customer);
  if (!threshold) {
    return;  // no limit set for this customer
  }
  const json limit = json::parse(*threshold, nullptr, false);
  if (!limit.is_object() || !limit.contains("monthly_limit")) {
    ctx.Log("thresholds/" + customer + " has no monthly_limit: " + *threshold);
    return;
  }
  const int64_t limit_cents = Cents(limit["monthly_limit"]);
  const int64_t total = spend.value("cents", int64_t{0});
  if (total < limit_cents) {
    return;
  }
  try {
    ctx.kv().Put("notified", key, json{{"at_cents", total}}.dump(), {sluice::kv::NotExists()});
  } catch (const sluice::ConditionalCheckFailed&) {
    return;  // notified before for this month
  }
  const json message = {{"customer_id", customer},
                        {"month", month},
                        {"spend", total / 100.0},
                        {"monthly_limit", limit_cents / 100.0}};
  const std::string id =
      ctx.Publish("billing-alerts", "Monthly spend limit reached", message.dump());
  ctx.Log("notified " + key + " (" + id + ")");
}

}  // namespace

int main() {
  return sluice::RunPerRecord(HandleToll);
}
