// billing_threshold: keeps each ABC Tolls customer's spend for the month and notifies once when
// it reaches the customer's monthly limit.
//
// Each record is a toll transaction, JSON (docs/demo.md):
//   {"transaction_id": "T-00000042", "customer_id": "C-0007", "tag": "TAG-0007",
//    "station_id": "S-03", "lane": 2, "amount": 2.5, "event_time": "2026-11-02T08:00:05Z"}
// Tables:
//   spend       "<customer>#<YYYY-MM>" -> {"cents": N}        (ReadWrite: the running total)
//   thresholds  "<customer>"           -> {"monthly_limit": 40.00}  (Read: set by the mobile app,
//                                                                   `sluice kv put`)
//   notified    "<customer>#<YYYY-MM>" -> {"at_cents": N}     (ReadWrite: one notification each)
// Topic: billing-alerts, message {"customer_id", "month", "spend", "monthly_limit"}.
//
// Aggregation, as the scenario does: tolls are totalled per customer and month, and each total
// is added to `spend` once. With a tumbling window (the ABC Tolls stack: 10 minutes of event
// time) the window's state carries the totals and the final invoke applies them; without one,
// each batch's totals are applied at the end of the batch.
//
// Exactly once without luck: the host commits the spend, the marker and the notification
// together with the checkpoint, only when the invoke succeeds. Spend only grows, so a total
// seen at or over the limit stays over it: that decision needs no guard. A total seen under the
// limit is added on the condition that the spend is still what this invoke read, so when
// another shard's invoke commits to the same customer first, this commit fails and its retry
// decides on the new total; the marker is written with NotExists, so a customer and month is
// notified once. A malformed record is reported as the batch's item failure; the records
// before it are applied.
#include <cmath>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "sluice/function.h"

namespace {

using nlohmann::json;

// Cents per "<customer>#<YYYY-MM>".
using Totals = std::map<std::string, int64_t>;

// A toll's amount (or a limit) in cents: a number of whole cents from 0 to 1,000,000.00;
// nullopt otherwise (2.675 is not an amount: rounding it would bill what nobody paid).
std::optional<int64_t> Cents(const json& amount) {
  if (!amount.is_number() || !(amount.get<double>() >= 0 && amount.get<double>() <= 1e6)) {
    return std::nullopt;
  }
  const double cents = amount.get<double>() * 100;
  if (std::fabs(cents - std::round(cents)) > 1e-6) {
    return std::nullopt;
  }
  return std::llround(cents);
}

// "YYYY-MM" of an ISO-8601 time, or nullopt.
std::optional<std::string> Month(const json& time) {
  if (!time.is_string()) {
    return std::nullopt;
  }
  const std::string& text = time.get_ref<const std::string&>();
  const auto digits = [&](size_t from, size_t n) {
    for (size_t i = from; i < from + n; ++i) {
      if (i >= text.size() || text[i] < '0' || text[i] > '9') {
        return false;
      }
    }
    return true;
  };
  if (!digits(0, 4) || text.size() < 8 || text[4] != '-' || !digits(5, 2) ||
      text.compare(5, 2, "00") == 0 || text.compare(5, 2, "12") > 0 || text[7] != '-') {
    return std::nullopt;
  }
  return text.substr(0, 7);
}

// Adds the toll in `data` to `totals`; false when it is not a toll transaction.
bool AddToll(const std::string& data, Totals* totals) {
  const json toll = json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!toll.is_object() || !toll.contains("customer_id") || !toll["customer_id"].is_string() ||
      toll["customer_id"].get_ref<const std::string&>().find('#') != std::string::npos) {
    return false;
  }
  const std::optional<std::string> month = Month(toll.value("event_time", json()));
  const std::optional<int64_t> cents = Cents(toll.value("amount", json()));
  if (!month || !cents) {
    return false;
  }
  (*totals)[toll["customer_id"].get<std::string>() + "#" + *month] += *cents;
  return true;
}

// Adds the records to `totals` up to the first that is not a toll, which is reported as the
// batch's item failure (it comes again; the retry starts there). Returns the sequence number of
// the last record added ("" for none).
std::string AddRecords(const sluice::StreamBatch& batch, Totals* totals,
                       sluice::StreamResponse* response, sluice::Context& ctx) {
  std::string last_added;
  for (const sluice::KinesisRecord& record : batch.records()) {
    if (!AddToll(record.data(), totals)) {
      ctx.Log("not a toll transaction: " + record.data().substr(0, 200));
      response->AddItemFailure(record.sequence_number());
      break;
    }
    last_added = record.sequence_number();
  }
  return last_added;
}

// The customer's monthly limit in cents, if one is set and valid.
std::optional<int64_t> LimitCents(const std::string& customer, sluice::Context& ctx) {
  const std::optional<std::string> threshold = ctx.kv().Get("thresholds", customer);
  if (!threshold) {
    return std::nullopt;
  }
  const json limit = json::parse(*threshold, nullptr, false);
  std::optional<int64_t> cents;
  if (limit.is_object() && limit.contains("monthly_limit")) {
    cents = Cents(limit["monthly_limit"]);
  }
  if (!cents) {
    ctx.Log("thresholds/" + customer + " has no valid monthly_limit: " + *threshold);
  }
  return cents;
}

// Adds `cents` to the spend of `key` ("<customer>#<YYYY-MM>") and notifies once when the month's
// total reaches the limit. Returns false when another invoke changed the spend or the marker
// between this call's reads and its writes (nothing is staged then; read again and retry).
bool ApplyTotal(const std::string& key, int64_t cents, sluice::Context& ctx) {
  const size_t hash = key.find('#');
  const std::string customer = key.substr(0, hash);
  const std::string month = key.substr(hash + 1);
  const sluice::kv::UpdateAction add = sluice::kv::Add("cents", std::to_string(cents));
  const std::optional<int64_t> limit = LimitCents(customer, ctx);
  if (!limit || ctx.kv().Get("notified", key)) {
    ctx.kv().Update("spend", key, {add});  // nothing to decide (most customers set no limit)
    return true;
  }
  const std::optional<std::string> before = ctx.kv().Get("spend", key);
  const int64_t seen = before ? json::parse(*before).value("cents", int64_t{0}) : 0;
  const int64_t total = seen + cents;
  try {
    if (total < *limit) {
      // Under the limit as seen: hold only if nobody added meanwhile.
      ctx.kv().Update(
          "spend", key, {add},
          {before ? sluice::kv::Compare("cents", sluice::kv::Condition::EQ, std::to_string(seen))
                  : sluice::kv::NotExists()});
      return true;
    }
    ctx.kv().Put("notified", key, json{{"at_cents", total}}.dump(), {sluice::kv::NotExists()});
  } catch (const sluice::ConditionalCheckFailed&) {
    return false;
  }
  ctx.kv().Update("spend", key, {add});
  const json message = {{"customer_id", customer},
                        {"month", month},
                        {"spend", static_cast<double>(total) / 100.0},
                        {"monthly_limit", static_cast<double>(*limit) / 100.0}};
  const std::string id =
      ctx.Publish("billing-alerts", "Monthly spend limit reached", message.dump());
  ctx.Log("notified " + key + " (" + id + ")");
  return true;
}

void ApplyTotals(const Totals& totals, sluice::Context& ctx) {
  for (const auto& [key, cents] : totals) {
    int attempts = 0;
    while (!ApplyTotal(key, cents, ctx)) {
      if (++attempts == 100) {
        throw std::runtime_error("spend/" + key + " keeps changing under this invoke");
      }
    }
  }
}

json TotalsToState(const Totals& totals) {
  json state = json::object();
  for (const auto& [key, cents] : totals) {
    state[key] = cents;
  }
  return state;
}

Totals TotalsFromState(const std::string& state_json) {
  const json state = json::parse(state_json);
  Totals totals;
  for (const auto& [key, cents] : state.items()) {
    totals[key] = cents.get<int64_t>();
  }
  return totals;
}

sluice::StreamResponse Handle(const sluice::StreamBatch& batch, sluice::Context& ctx) {
  sluice::StreamResponse response;
  if (!batch.has_window()) {
    Totals totals;
    // The effects belong to the last record added, so they commit with it even when a later
    // record failed.
    ctx.SetCurrentRecord(AddRecords(batch, &totals, &response, ctx));
    ApplyTotals(totals, ctx);
    return response;
  }
  Totals totals = TotalsFromState(batch.state_json());
  if (batch.is_final_invoke_for_window()) {
    ApplyTotals(totals, ctx);
    response.SetState("{}");
    return response;
  }
  AddRecords(batch, &totals, &response, ctx);
  response.SetState(TotalsToState(totals).dump());
  return response;
}

}  // namespace

int main() {
  return sluice::Run(Handle);
}
