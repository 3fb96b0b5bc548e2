// PostgresLoader against a real PostgreSQL server started for each test.
#include "delivery/postgres_loader.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/support/postgres_server.h"

namespace sluice::delivery {
namespace {

using testing::PostgresServer;
using Rows = std::vector<std::vector<std::string>>;

PostgresConfig Destination(const std::string& connection_string, const std::string& table,
                           const std::string& columns = "", const std::string& copy_options = "") {
  PostgresConfig config;
  config.connection_string = connection_string;
  config.table = table;
  config.columns = columns;
  config.copy_options = copy_options;
  return config;
}

Rows Loads(const PostgresServer& server) {
  return server.Query(
      "SELECT delivery_stream, object_key, records FROM sluice_delivery_loads ORDER BY 1, 2");
}

TEST_CASE("text CopyOptions: one row per record, a missing final newline added") {
  PostgresServer server;
  server.Query("CREATE TABLE tolls (id int, plate text)");
  PostgresLoader loader(Destination(server.conninfo(), "tolls"));

  Result<bool> loaded = loader.Load("lake", "2024/05/01/a", {"1\tAB-12\n", "2\t\\N", "3\tCD 34"});
  REQUIRE(loaded.status().ToString() == "OK");
  CHECK(*loaded);
  CHECK(server.Query("SELECT id, plate FROM tolls ORDER BY id") ==
        Rows{{"1", "AB-12"}, {"2", "\\N"}, {"3", "CD 34"}});
  CHECK(Loads(server) == Rows{{"lake", "2024/05/01/a", "3"}});
}

TEST_CASE("CSV CopyOptions with DataTableColumns in another order than the table's") {
  PostgresServer server;
  server.Query("CREATE TABLE tolls (id int, plate text, note text)");
  PostgresLoader loader(
      Destination(server.conninfo(), "public.tolls", " plate ,id", "WITH (FORMAT csv)"));

  Result<bool> loaded = loader.Load("lake", "k1", {"\"AB, 12\",1\n", ",2", "\"\",3"});
  REQUIRE(loaded.status().ToString() == "OK");
  CHECK(server.Query("SELECT id, plate, note FROM tolls ORDER BY id") ==
        Rows{{"1", "AB, 12", "\\N"}, {"2", "\\N", "\\N"}, {"3", "", "\\N"}});
}

TEST_CASE("JSON 'auto' fills typed columns from each object's properties") {
  PostgresServer server;
  server.Query(
      "CREATE TABLE events (id int, amount numeric, note text, at timestamptz, doc jsonb, "
      "flag boolean)");
  PostgresLoader loader(
      Destination(server.conninfo(), "events", "id,amount,note,at,doc,flag", "  json 'AUTO' "));

  const std::vector<std::string> records = {
      R"({"id": 1, "amount": 12.5, "note": "say \"hi\", then\nleave", "at": "2024-05-01T10:00:00Z",
          "doc": {"a": [1, 2]}, "flag": true, "unknown": "ignored"})",
      R"({"id": 2})", R"({"id": 3, "amount": null, "note": "", "doc": [1, "x"], "flag": false})",
      R"({"id": "4", "amount": 123456789012345, "note": 7})"};
  Result<bool> loaded = loader.Load("lake", "k1", records);
  REQUIRE(loaded.status().ToString() == "OK");
  CHECK(server.Query("SELECT id, amount, note, at AT TIME ZONE 'UTC', doc::text, flag FROM events "
                     "ORDER BY id") == Rows{{"1", "12.5", "say \"hi\", then\nleave",
                                             "2024-05-01 10:00:00", R"({"a": [1, 2]})", "t"},
                                            {"2", "\\N", "\\N", "\\N", "\\N", "\\N"},
                                            {"3", "\\N", "", "\\N", R"([1, "x"])", "f"},
                                            {"4", "123456789012345", "7", "\\N", "\\N", "\\N"}});
  CHECK(Loads(server) == Rows{{"lake", "k1", "4"}});
}

TEST_CASE("JSON 'auto': a record that is not a JSON object fails the load, naming its index") {
  PostgresServer server;
  server.Query("CREATE TABLE events (id int)");
  PostgresLoader loader(Destination(server.conninfo(), "events", "id", "JSON 'auto'"));

  for (const std::string& bad : {std::string("[1, 2]"), std::string("{\"id\": 2"),
                                 std::string("\"text\""), std::string("")}) {
    Result<bool> loaded = loader.Load("lake", "k1", {R"({"id": 1})", bad});
    INFO(bad);
    CHECK(loaded.status().code() == Code::kInvalidArgument);
    CHECK_THAT(loaded.status().message(), Catch::Contains("records[1]: not a JSON object"));
  }
  CHECK(server.Query("SELECT count(*) FROM events") == Rows{{"0"}});

  PostgresLoader without_columns(Destination(server.conninfo(), "events", "", "JSON 'auto'"));
  Result<bool> loaded = without_columns.Load("lake", "k1", {R"({"id": 1})"});
  CHECK(loaded.status().code() == Code::kInvalidArgument);
  CHECK_THAT(loaded.status().message(), Catch::Contains("DataTableColumns"));
}

TEST_CASE("loading the same object key twice loads its rows once") {
  PostgresServer server;
  server.Query("CREATE TABLE tolls (id int)");
  PostgresLoader loader(Destination(server.conninfo(), "tolls"));

  Result<bool> first = loader.Load("lake", "k1", {"1", "2"});
  REQUIRE(first.status().ToString() == "OK");
  CHECK(*first);
  // A retry, by this loader or by another one after a restart of the host.
  Result<bool> again = loader.Load("lake", "k1", {"1", "2"});
  REQUIRE(again.status().ToString() == "OK");
  CHECK_FALSE(*again);
  PostgresLoader after_restart(Destination(server.conninfo(), "tolls"));
  Result<bool> retried = after_restart.Load("lake", "k1", {"1", "2"});
  REQUIRE(retried.status().ToString() == "OK");
  CHECK_FALSE(*retried);
  CHECK(server.Query("SELECT count(*) FROM tolls") == Rows{{"2"}});

  // The key is per delivery stream.
  Result<bool> other_stream = loader.Load("pond", "k1", {"3"});
  REQUIRE(other_stream.status().ToString() == "OK");
  CHECK(*other_stream);
  CHECK(server.Query("SELECT count(*) FROM tolls") == Rows{{"3"}});
  CHECK(Loads(server) == Rows{{"lake", "k1", "2"}, {"pond", "k1", "1"}});
}

TEST_CASE("a missing table is a clear error, records nothing, and the loader goes on after") {
  PostgresServer server;
  PostgresLoader loader(Destination(server.conninfo(), "tolls"));

  Result<bool> loaded = loader.Load("lake", "k1", {"1"});
  CHECK(loaded.status().code() == Code::kFailedPrecondition);
  CHECK_THAT(loaded.status().message(), Catch::Contains("relation \"tolls\" does not exist") &&
                                            Catch::Contains("SQLSTATE 42P01"));
  CHECK(Loads(server).empty());

  server.Query("CREATE TABLE tolls (id int)");
  loaded = loader.Load("lake", "k1", {"1"});
  REQUIRE(loaded.status().ToString() == "OK");
  CHECK(*loaded);
  CHECK(Loads(server) == Rows{{"lake", "k1", "1"}});
}

TEST_CASE("a row the table refuses fails the whole load with PostgreSQL's context") {
  PostgresServer server;
  server.Query("CREATE TABLE tolls (id int NOT NULL)");
  PostgresLoader loader(Destination(server.conninfo(), "tolls"));

  Result<bool> loaded = loader.Load("lake", "k1", {"1", "2", "two"});
  CHECK(loaded.status().code() == Code::kInvalidArgument);
  CHECK_THAT(loaded.status().message(), Catch::Contains("invalid input syntax for type integer") &&
                                            Catch::Contains("line 3") &&
                                            Catch::Contains("SQLSTATE 22P02"));
  CHECK(server.Query("SELECT count(*) FROM tolls") == Rows{{"0"}});
  CHECK(Loads(server).empty());

  // Bad CopyOptions are the destination's configuration.
  PostgresLoader bad_options(Destination(server.conninfo(), "tolls", "", "WITH (FORMAT xml)"));
  loaded = bad_options.Load("lake", "k2", {"1"});
  CHECK(loaded.status().code() == Code::kFailedPrecondition);
  CHECK_THAT(loaded.status().message(), Catch::Contains("xml"));
}

TEST_CASE("table and column names are quoted identifiers: case kept, reserved words work") {
  PostgresServer server;
  server.Query(
      "CREATE SCHEMA \"TollData\"; CREATE TABLE \"TollData\".\"Tolls\" "
      "(\"Plate\" text, \"order\" int, \"a$b\" int); CREATE TABLE \"TollData\".tolls (x int)");
  PostgresLoader loader(Destination(server.conninfo(), "TollData.Tolls", "a$b,order,Plate", "CSV"));

  Result<bool> loaded = loader.Load("lake", "k1", {"7,8,AB-12"});
  REQUIRE(loaded.status().ToString() == "OK");
  CHECK(server.Query("SELECT \"a$b\", \"order\", \"Plate\" FROM \"TollData\".\"Tolls\"") ==
        Rows{{"7", "8", "AB-12"}});
  CHECK(server.Query("SELECT count(*) FROM \"TollData\".tolls") == Rows{{"0"}});

  PostgresLoader empty_part(Destination(server.conninfo(), "TollData.", "x"));
  CHECK(empty_part.Load("lake", "k2", {"1"}).status().code() == Code::kInvalidArgument);
}

TEST_CASE("a stopped server is UNAVAILABLE, and the same loader loads again once it is back") {
  PostgresServer server;
  server.Query("CREATE TABLE tolls (id int)");
  PostgresLoader loader(Destination(server.conninfo(), "tolls"));
  REQUIRE(loader.Load("lake", "k1", {"1"}).ok());

  server.Stop();
  Result<bool> down = loader.Load("lake", "k2", {"2"});
  CHECK(down.status().code() == Code::kUnavailable);
  down = loader.Load("lake", "k2", {"2"});  // now connecting, refused
  CHECK(down.status().code() == Code::kUnavailable);
  CHECK_THAT(down.status().message(), Catch::Contains("cannot connect"));

  server.Start();
  Result<bool> back = loader.Load("lake", "k2", {"2"});
  REQUIRE(back.status().ToString() == "OK");
  CHECK(*back);
  CHECK(server.Query("SELECT id FROM tolls ORDER BY id") == Rows{{"1"}, {"2"}});
}

TEST_CASE("a loader made while the server is down connects when it is up") {
  PostgresServer server;
  server.Query("CREATE TABLE tolls (id int)");
  server.Stop();
  PostgresLoader loader(Destination(server.conninfo(), "tolls"));
  CHECK(loader.Load("lake", "k1", {"1"}).status().code() == Code::kUnavailable);

  server.Start();
  Result<bool> loaded = loader.Load("lake", "k1", {"1"});
  REQUIRE(loaded.status().ToString() == "OK");
  CHECK(*loaded);
}

TEST_CASE("connection strings: URIs work, ones that do not parse are INVALID_ARGUMENT") {
  PostgresServer server;
  server.Query("CREATE TABLE tolls (id int)");
  PostgresLoader uri(Destination(
      "postgresql://postgres@127.0.0.1:" + std::to_string(server.port()) + "/sluice_test",
      "tolls"));
  Result<bool> loaded = uri.Load("lake", "k1", {"1"});
  REQUIRE(loaded.status().ToString() == "OK");
  CHECK(*loaded);

  PostgresLoader unknown_option(Destination(server.conninfo() + " colour=blue", "tolls"));
  loaded = unknown_option.Load("lake", "k2", {"2"});
  CHECK(loaded.status().code() == Code::kInvalidArgument);
  CHECK_THAT(loaded.status().message(), Catch::Contains("colour"));
  CHECK(server.Query("SELECT count(*) FROM tolls") == Rows{{"1"}});
}

TEST_CASE("the loader's connection defaults give way to the connection string's settings") {
  PostgresServer server;
  server.Query("CREATE TABLE tolls (id int)");
  const std::string names =
      "SELECT application_name FROM pg_stat_activity WHERE application_name LIKE '%sluice%' "
      "ORDER BY 1";
  PostgresLoader with_defaults(Destination(server.conninfo(), "tolls"));
  REQUIRE(with_defaults.Load("lake", "k1", {"1"}).ok());
  CHECK(server.Query(names) == Rows{{"sluice-delivery"}});

  PostgresLoader named(Destination(server.conninfo() + " application_name=my-sluice", "tolls"));
  REQUIRE(named.Load("lake", "k2", {"2"}).ok());
  CHECK(server.Query(names) == Rows{{"my-sluice"}, {"sluice-delivery"}});
}

}  // namespace
}  // namespace sluice::delivery
