// Host-services benchmark. Prints one JSON line per figure:
//   {"bench": "host_services", "metric": ..., "value": ..., "unit": ...}
// Figures:
//   - KvGet and KvUpdate latency from inside a sandboxed function (p50/p99, µs), measured by the
//     function around each call (kv_bench_function), through the real runtime connection and
//     the real EffectStage over SQLite. Baseline in the same run: KvStore::Get and
//     KvStore::Update called in this process (what SQLite alone costs, without the RPC).
//   - Commit throughput (effects/s): stages of 10 and 100 KvUpdates each, committed one after
//     another, with the database in os and fsync durability.
//
// usage: host_services_bench KV_BENCH_FUNCTION [--quick]
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <sstream>

#include "invoker/function_pool.h"
#include "sandbox/launcher.h"
#include "state/effect_committer.h"
#include "state/effect_stage.h"
#include "state/kv_store.h"
#include "state/state_db.h"

namespace {

namespace fs = std::filesystem;
namespace pb = sluice::runtime::v1;
using SteadyClock = std::chrono::steady_clock;

void Emit(const std::string& metric, double value, const std::string& unit) {
  std::printf(
      "{\"bench\": \"host_services\", \"metric\": \"%s\", \"value\": %.3f, \"unit\": \"%s\"}\n",
      metric.c_str(), value, unit.c_str());
  std::fflush(stdout);
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "host_services_bench: " << what << std::endl;
  std::exit(1);
}

std::unique_ptr<sluice::state::StateDb> OpenDb(const std::string& path,
                                               sluice::state::DbDurability durability) {
  auto db = sluice::state::StateDb::Open(path, durability);
  if (!db.ok()) {
    Die(db.status().ToString());
  }
  return std::move(db).value();
}

sluice::state::KvUpdateActions AddOne() {
  sluice::state::KvUpdateActions actions;
  pb::KvUpdateAction* add = actions.Add();
  add->set_kind(pb::KvUpdateAction::ADD);
  add->set_attribute("n");
  add->set_value_json("1");
  return actions;
}

// Latency of KvStore calls in this process: the SQLite floor under the RPC.
void BenchInProcessBaseline(sluice::state::StateDb* db, int calls, int keys) {
  sluice::state::KvStore store(db);
  std::vector<double> gets, updates;
  const auto actions = AddOne();
  for (int i = 0; i < calls; ++i) {
    const auto start = SteadyClock::now();
    if (!store.Get("bench", "k-" + std::to_string(i % keys)).ok())
      Die("baseline get failed");
    gets.push_back(std::chrono::duration<double, std::micro>(SteadyClock::now() - start).count());
  }
  for (int i = 0; i < calls; ++i) {
    const auto start = SteadyClock::now();
    if (!store.Update("bench", "k-" + std::to_string(i % keys), actions).ok()) {
      Die("baseline update failed");
    }
    updates.push_back(
        std::chrono::duration<double, std::micro>(SteadyClock::now() - start).count());
  }
  Emit("baseline_in_process_kv_get_p50", Percentile(gets, 0.5), "us");
  Emit("baseline_in_process_kv_get_p99", Percentile(gets, 0.99), "us");
  Emit("baseline_in_process_kv_update_p50", Percentile(updates, 0.5), "us");
  Emit("baseline_in_process_kv_update_p99", Percentile(updates, 0.99), "us");
}

// Latency seen by a function: it times its own calls and prints the percentiles.
void BenchFromFunction(const std::string& binary, const std::string& dir,
                       sluice::state::StateDb* db, int calls, int keys) {
  auto launcher = sluice::sandbox::SandboxLauncher::Create({});
  if (!launcher.ok())
    Die(launcher.status().ToString());
  fs::create_directories(dir + "/code");
  fs::permissions(dir + "/code", fs::perms(0755));
  fs::create_directories(dir + "/scratch");
  fs::copy_file(binary, dir + "/code/handler");
  auto server = sluice::invoker::RuntimeServer::Start(dir + "/runtime",
                                                      !(*launcher)->FunctionSeesFixedPaths());
  if (!server.ok())
    Die(server.status().ToString());
  std::mutex mu;
  std::string report;
  sluice::invoker::LogCapture logs([&](const sluice::invoker::LogLine& line) {
    std::lock_guard<std::mutex> lock(mu);
    if (line.text.rfind("kv-latency-us ", 0) == 0)
      report = line.text;
    if (line.is_stderr)
      std::cerr << "function: " << line.text << std::endl;
  });
  sluice::invoker::DeadlineTimer timer;
  sluice::invoker::FunctionConfig config;
  config.name = "kv_bench";
  config.code_dir = dir + "/code";
  config.handler = "handler";
  config.timeout = std::chrono::seconds(120);
  config.tables["bench"] = sluice::invoker::TableAccess::kReadWrite;
  sluice::invoker::InstanceDeps deps;
  deps.launcher = launcher->get();
  deps.runtime_server = server->get();
  deps.logs = &logs;
  deps.timer = &timer;
  deps.scratch_root = dir + "/scratch";
  sluice::invoker::FunctionPool pool(config, deps);

  pb::Invoke invoke;
  pb::KinesisRecord* record = invoke.mutable_kinesis()->add_records();
  record->set_data(std::to_string(calls) + " " + std::to_string(keys));
  record->set_partition_key("bench");
  record->set_sequence_number("1");
  auto stage = std::make_shared<sluice::state::EffectStage>(db, pool.config());
  auto result = pool.Invoke(invoke, stage);
  if (!result.ok())
    Die(result.status().ToString());
  if (result->is_function_error())
    Die("function error: " + result->response.error().error_message());
  sluice::state::EffectCommitter committer(db, &sluice::Clock::Real());
  const auto start = SteadyClock::now();
  auto committed = committer.Commit({stage.get(), std::nullopt, std::nullopt, {}});
  const double commit_ms =
      std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
  if (!committed.ok())
    Die(committed.status().ToString());
  std::string word;
  double get50 = 0, get99 = 0, update50 = 0, update99 = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    std::istringstream in(report);
    std::string get, update;
    in >> word >> get >> get50 >> get99 >> update >> update50 >> update99;
    if (!in)
      Die("the function printed no latency line");
  }
  Emit("function_kv_get_p50", get50, "us");
  Emit("function_kv_get_p99", get99, "us");
  Emit("function_kv_update_p50", update50, "us");
  Emit("function_kv_update_p99", update99, "us");
  Emit("commit_of_" + std::to_string(calls) + "_staged_updates", commit_ms, "ms");
}

// Effects per second through EffectCommitter, stages of `effects` updates each.
void BenchCommit(const std::string& path, sluice::state::DbDurability durability,
                 const std::string& label, int stages, int effects) {
  auto db = OpenDb(path, durability);
  sluice::invoker::FunctionConfig config;
  config.name = "commit_bench";
  config.tables["bench"] = sluice::invoker::TableAccess::kReadWrite;
  sluice::state::EffectCommitter committer(db.get(), &sluice::Clock::Real());
  pb::KvUpdateRequest request;
  request.set_table("bench");
  *request.mutable_actions() = AddOne();
  const auto start = SteadyClock::now();
  for (int s = 0; s < stages; ++s) {
    sluice::state::EffectStage stage(db.get(), config);
    for (int e = 0; e < effects; ++e) {
      request.set_key("c-" + std::to_string((s * effects + e) % 5000));
      pb::KvUpdateResponse response;
      if (!stage.KvUpdate("", request, &response).ok())
        Die("staging failed");
    }
    auto committed = committer.Commit({&stage, std::nullopt, std::nullopt, {}});
    if (!committed.ok())
      Die(committed.status().ToString());
  }
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  Emit("commit_throughput_" + label + "_" + std::to_string(effects) + "_per_invoke",
       stages * effects / seconds, "effects/s");
  Emit("commit_rate_" + label + "_" + std::to_string(effects) + "_per_invoke", stages / seconds,
       "commits/s");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: host_services_bench KV_BENCH_FUNCTION [--quick]" << std::endl;
    return 2;
  }
  const bool quick = argc > 2 && std::string(argv[2]) == "--quick";
  char tmpl[] = "/tmp/sluice-hs-bench-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  fs::permissions(dir, fs::perms(0711));
  const int calls = quick ? 200 : 900;  // updates stay under the 1,000 effects per invoke
  const int keys = 1000;
  {
    auto db = OpenDb(dir + "/latency.db", sluice::state::DbDurability::kOs);
    sluice::state::KvStore store(db.get());
    for (int i = 0; i < keys; ++i) {
      if (!store.Put("bench", "k-" + std::to_string(i), R"({"n":0})").ok())
        Die("seeding failed");
    }
    BenchInProcessBaseline(db.get(), calls, keys);
    BenchFromFunction(argv[1], dir + "/function", db.get(), calls, keys);
  }
  for (const auto& [durability, label] :
       {std::pair{sluice::state::DbDurability::kOs, std::string("os")},
        std::pair{sluice::state::DbDurability::kFsync, std::string("fsync")}}) {
    BenchCommit(dir + "/commit-" + label + "-10.db", durability, label, quick ? 100 : 1000, 10);
    BenchCommit(dir + "/commit-" + label + "-100.db", durability, label, quick ? 20 : 200, 100);
  }
  fs::remove_all(dir);
  return 0;
}
