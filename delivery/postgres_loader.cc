#include "delivery/postgres_loader.h"

#include <libpq-fe.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>

#include "base/text.h"

namespace sluice::delivery {
namespace {

constexpr char kTrackingTable[] = "sluice_delivery_loads";

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

std::string_view Trim(std::string_view text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) {
    return {};
  }
  return text.substr(begin, text.find_last_not_of(" \t\r\n") - begin + 1);
}

// The items of a comma- or dot-separated list of names, trimmed; empty items are refused.
Result<std::vector<std::string>> SplitNames(std::string_view list, char separator,
                                            const std::string& what) {
  std::vector<std::string> names;
  size_t start = 0;
  for (;;) {
    const size_t end = list.find(separator, start);
    const std::string_view name =
        Trim(list.substr(start, end == std::string_view::npos ? end : end - start));
    if (name.empty()) {
      return InvalidArgument(what + ": empty name in '" + std::string(list) + "'");
    }
    names.emplace_back(name);
    if (end == std::string_view::npos) {
      return names;
    }
    start = end + 1;
  }
}

// One CSV field: empty (NULL to COPY) for null, else the quoted text (the JSON text for
// non-strings; quoting only tells COPY that the value is not NULL, the column's type parses it).
void AppendCsvField(const nlohmann::json& value, std::string* row) {
  if (value.is_null()) {
    return;
  }
  const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
  row->push_back('"');
  for (const char c : text) {
    if (c == '"') {
      row->push_back('"');
    }
    row->push_back(c);
  }
  row->push_back('"');
}

// JSON 'auto': each record a JSON object, turned into one CSV row of `columns`' properties.
Result<std::vector<std::string>> JsonRecordsToCsv(const std::vector<std::string>& records,
                                                  const std::vector<std::string>& columns) {
  std::vector<std::string> rows;
  for (size_t i = 0; i < records.size(); ++i) {
    const nlohmann::json record = nlohmann::json::parse(records[i], nullptr, false);
    if (!record.is_object()) {
      return InvalidArgument(Indexed("records", i) +
                             ": not a JSON object (CopyOptions JSON 'auto')");
    }
    std::string& row = rows.emplace_back();
    for (size_t c = 0; c < columns.size(); ++c) {
      if (c > 0) {
        row.push_back(',');
      }
      const auto property = record.find(columns[c]);
      if (property != record.end()) {
        AppendCsvField(*property, &row);
      }
    }
  }
  return rows;
}

// How a failed statement's SQLSTATE is retried: transient server states and lost connections are
// UNAVAILABLE; bad data is INVALID_ARGUMENT; a destination set up wrong (missing table or column,
// no privilege, bad COPY options) is FAILED_PRECONDITION.
Code CodeForSqlState(std::string_view state) {
  const std::string_view state_class = state.substr(0, 2);
  if (state_class == "08" || state_class == "53" || state_class == "40" || state == "55P03" ||
      state == "57014" || state == "57P01" || state == "57P02" || state == "57P03") {
    return Code::kUnavailable;
  }
  // Class 22 is bad data, except a bad option value (of COPY's options, say).
  if (state == "22023") {
    return Code::kFailedPrecondition;
  }
  if (state_class == "22" || state_class == "23") {
    return Code::kInvalidArgument;
  }
  if (state_class == "42" || state_class == "28" || state_class == "3F" || state_class == "0A") {
    return Code::kFailedPrecondition;
  }
  return Code::kInternal;
}

std::string TrimmedErrorMessage(const PGconn* conn) {
  return std::string(Trim(PQerrorMessage(conn)));
}

// Connection parameters a conninfo rarely sets; the connection string's own values win, because
// expand_dbname applies it after these.
struct ConnectionDefault {
  const char* keyword;
  const char* value;
};
constexpr ConnectionDefault kConnectionDefaults[] = {
    {"connect_timeout", "5"},  // seconds
    {"keepalives", "1"},
    {"keepalives_idle", "10"},
    {"keepalives_interval", "5"},
    {"keepalives_count", "3"},
    // ms that sent data may stay unacknowledged before the connection counts as dead
    {"tcp_user_timeout", "30000"},
    // A server that holds a statement (a lock, a stuck COPY) gives up in 10 minutes.
    {"options", "-c statement_timeout=600000"},
    {"application_name", "sluice-delivery"},
};

void IgnoreNotice(void*, const char*) {}

Status StatementError(PGconn* conn, const PGresult* result, const std::string& what) {
  if (PQstatus(conn) != CONNECTION_OK) {
    return Unavailable(what + ": connection lost: " + TrimmedErrorMessage(conn));
  }
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary =
      result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  if (state == nullptr || primary == nullptr) {
    return Internal(what + ": " + TrimmedErrorMessage(conn));
  }
  std::string message = what + ": " + primary;
  for (const int field : {PG_DIAG_MESSAGE_DETAIL, PG_DIAG_CONTEXT}) {
    if (const char* text = PQresultErrorField(result, field); text != nullptr) {
      message.append("; ").append(text);
    }
  }
  message.append(" (SQLSTATE ").append(state).append(")");
  return Status(CodeForSqlState(state), std::move(message));
}

Result<PgResult> Execute(PGconn* conn, const std::string& sql,
                         const std::vector<std::string>& params, ExecStatusType expected_status,
                         const std::string& what) {
  std::vector<const char*> values;
  for (const std::string& param : params) {
    values.push_back(param.c_str());
  }
  // The extended protocol (even without parameters) runs exactly one statement.
  PgResult result(PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0));
  if (PQresultStatus(result.get()) != expected_status) {
    return StatementError(conn, result.get(), what);
  }
  return result;
}

Status CreateTrackingTable(PGconn* conn) {
  // Loaders of several delivery streams may connect at once: the advisory lock keeps two
  // CREATE TABLEs from racing, and the lookup first spares a role without CREATE privilege a
  // table made for it beforehand.
  const std::string what = std::string("creating ") + kTrackingTable;
  SLUICE_RETURN_IF_ERROR(Execute(conn, "BEGIN", {}, PGRES_COMMAND_OK, what).status());
  SLUICE_RETURN_IF_ERROR(Execute(conn, "SELECT pg_advisory_xact_lock(hashtext($1))",
                                 {kTrackingTable}, PGRES_TUPLES_OK, what)
                             .status());
  Result<PgResult> exists =
      Execute(conn, "SELECT to_regclass($1) IS NOT NULL", {kTrackingTable}, PGRES_TUPLES_OK, what);
  SLUICE_RETURN_IF_ERROR(exists.status());
  if (std::string_view(PQgetvalue(exists->get(), 0, 0)) != "t") {
    SLUICE_RETURN_IF_ERROR(Execute(conn,
                                   std::string("CREATE TABLE ") + kTrackingTable +
                                       " (delivery_stream text NOT NULL,"
                                       " object_key text NOT NULL,"
                                       " records bigint NOT NULL,"
                                       " loaded_at timestamptz NOT NULL DEFAULT now(),"
                                       " PRIMARY KEY (delivery_stream, object_key))",
                                   {}, PGRES_COMMAND_OK, what)
                               .status());
  }
  return Execute(conn, "COMMIT", {}, PGRES_COMMAND_OK, what).status();
}

// Appends `separator` and `name` quoted as an identifier.
Status AppendIdentifier(PGconn* conn, const std::string& name, const char* separator,
                        std::string* sql) {
  char* quoted = PQescapeIdentifier(conn, name.c_str(), name.size());
  if (quoted == nullptr) {
    return InvalidArgument("cannot quote the name '" + name + "': " + TrimmedErrorMessage(conn));
  }
  sql->append(separator).append(quoted);
  PQfreemem(quoted);
  return Status::Ok();
}

Result<std::string> CopyStatement(PGconn* conn, const PostgresConfig& config,
                                  const std::vector<std::string>& columns) {
  Result<std::vector<std::string>> table_parts = SplitNames(config.table, '.', "DataTableName");
  SLUICE_RETURN_IF_ERROR(table_parts.status());
  std::string sql = "COPY ";
  for (size_t i = 0; i < table_parts->size(); ++i) {
    SLUICE_RETURN_IF_ERROR(AppendIdentifier(conn, (*table_parts)[i], i > 0 ? "." : "", &sql));
  }
  for (size_t i = 0; i < columns.size(); ++i) {
    SLUICE_RETURN_IF_ERROR(AppendIdentifier(conn, columns[i], i == 0 ? " (" : ", ", &sql));
  }
  if (!columns.empty()) {
    sql.append(")");
  }
  sql.append(" FROM STDIN");
  if (config.json_auto()) {
    sql.append(" WITH (FORMAT csv)");
  } else if (!Trim(config.copy_options).empty()) {
    sql.append(" ").append(config.copy_options);
  }
  return sql;
}

// Runs `copy_sql` and sends it `rows`, each ended by a newline.
Status CopyRows(PGconn* conn, const std::string& copy_sql, const std::vector<std::string>& rows,
                const std::string& what) {
  SLUICE_RETURN_IF_ERROR(Execute(conn, copy_sql, {}, PGRES_COPY_IN, what).status());
  // PQputCopyData fails only when the connection broke; the server's verdict comes at the end.
  const auto put = [conn](std::string_view data) {
    return PQputCopyData(conn, data.data(), static_cast<int>(data.size())) == 1;
  };
  bool sent = true;
  for (size_t i = 0; sent && i < rows.size(); ++i) {
    sent = put(rows[i]) && ((!rows[i].empty() && rows[i].back() == '\n') || put("\n"));
  }
  if (!sent || PQputCopyEnd(conn, nullptr) != 1) {
    return Unavailable(what + ": sending rows: " + TrimmedErrorMessage(conn));
  }
  PgResult result(PQgetResult(conn));
  Status status = PQresultStatus(result.get()) == PGRES_COMMAND_OK
                      ? Status::Ok()
                      : StatementError(conn, result.get(), what);
  while (PgResult(PQgetResult(conn)) != nullptr) {
  }
  return status;
}

Result<bool> LoadInTransaction(PGconn* conn, const PostgresConfig& config,
                               const std::string& delivery_stream, const std::string& object_key,
                               const std::vector<std::string>& columns,
                               const std::vector<std::string>& rows) {
  Result<std::string> copy_sql = CopyStatement(conn, config, columns);
  SLUICE_RETURN_IF_ERROR(copy_sql.status());
  SLUICE_RETURN_IF_ERROR(Execute(conn, "BEGIN", {}, PGRES_COMMAND_OK, "BEGIN").status());
  Result<PgResult> loaded = Execute(conn,
                                    std::string("SELECT 1 FROM ") + kTrackingTable +
                                        " WHERE delivery_stream = $1 AND object_key = $2",
                                    {delivery_stream, object_key}, PGRES_TUPLES_OK,
                                    std::string("looking up the load in ") + kTrackingTable);
  SLUICE_RETURN_IF_ERROR(loaded.status());
  if (PQntuples(loaded->get()) > 0) {
    SLUICE_RETURN_IF_ERROR(Execute(conn, "ROLLBACK", {}, PGRES_COMMAND_OK, "ROLLBACK").status());
    return false;
  }
  SLUICE_RETURN_IF_ERROR(CopyRows(conn, *copy_sql, rows, "COPY into " + config.table));
  SLUICE_RETURN_IF_ERROR(
      Execute(conn,
              std::string("INSERT INTO ") + kTrackingTable +
                  " (delivery_stream, object_key, records, loaded_at) VALUES ($1, $2, $3, now())",
              {delivery_stream, object_key, std::to_string(rows.size())}, PGRES_COMMAND_OK,
              std::string("recording the load in ") + kTrackingTable)
          .status());
  // A COMMIT whose answer is lost may have committed: the retry finds the load recorded.
  SLUICE_RETURN_IF_ERROR(Execute(conn, "COMMIT", {}, PGRES_COMMAND_OK, "COMMIT").status());
  return true;
}

// After a failed Load: whether the connection is idle again (rolled back) and fit for the next.
bool RollBackFailedLoad(PGconn* conn) {
  switch (PQtransactionStatus(conn)) {
    case PQTRANS_IDLE: return true;
    case PQTRANS_INTRANS:
    case PQTRANS_INERROR: return Execute(conn, "ROLLBACK", {}, PGRES_COMMAND_OK, "ROLLBACK").ok();
    default:  // lost, or stuck in the middle of a statement
      return false;
  }
}

}  // namespace

PostgresLoader::PostgresLoader(PostgresConfig config) : config_(std::move(config)) {}

PostgresLoader::~PostgresLoader() {
  Disconnect();
}

void PostgresLoader::Disconnect() {
  if (conn_ != nullptr) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
}

Status PostgresLoader::Connect() {
  const std::string& conninfo = config_.connection_string;
  // A conninfo or URI that cannot be parsed is a configuration error, not worth retrying (a
  // plain database name is not parsed: expand_dbname takes it as the name).
  if (conninfo.find('=') != std::string::npos || conninfo.find("://") != std::string::npos) {
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
    if (options == nullptr) {
      Status status = InvalidArgument(
          "ConnectionString: " + std::string(Trim(error != nullptr ? error : "out of memory")));
      PQfreemem(error);
      return status;
    }
    PQconninfoFree(options);
  }
  std::vector<const char*> keywords;
  std::vector<const char*> values;
  for (const ConnectionDefault& setting : kConnectionDefaults) {
    keywords.push_back(setting.keyword);
    values.push_back(setting.value);
  }
  keywords.push_back("dbname");
  values.push_back(conninfo.c_str());
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/1);
  if (conn_ == nullptr) {
    return Unavailable("PostgreSQL: cannot allocate a connection");
  }
  if (PQstatus(conn_) != CONNECTION_OK) {
    Status status = Unavailable("PostgreSQL: cannot connect: " + TrimmedErrorMessage(conn_));
    Disconnect();
    return status;
  }
  PQsetNoticeProcessor(conn_, IgnoreNotice, nullptr);
  Status tracking = CreateTrackingTable(conn_);
  if (!tracking.ok() && !RollBackFailedLoad(conn_)) {
    Disconnect();
  }
  return tracking;
}

Result<bool> PostgresLoader::Load(const std::string& delivery_stream, const std::string& object_key,
                                  const std::vector<std::string>& records) {
  // The configuration and the records are checked before the server is involved.
  std::vector<std::string> columns;
  if (!Trim(config_.columns).empty()) {
    Result<std::vector<std::string>> names = SplitNames(config_.columns, ',', "DataTableColumns");
    SLUICE_RETURN_IF_ERROR(names.status());
    columns = std::move(*names);
  }
  std::vector<std::string> csv_rows;  // JSON 'auto': the records as CSV
  if (config_.json_auto()) {
    if (columns.empty()) {
      return InvalidArgument("CopyOptions JSON 'auto' needs DataTableColumns");
    }
    Result<std::vector<std::string>> converted = JsonRecordsToCsv(records, columns);
    SLUICE_RETURN_IF_ERROR(converted.status());
    csv_rows = std::move(*converted);
  }
  const std::vector<std::string>& rows = config_.json_auto() ? csv_rows : records;

  // A failed Load drops a broken connection, so an open one is fit for use.
  if (conn_ == nullptr) {
    SLUICE_RETURN_IF_ERROR(Connect());
  }
  Result<bool> loaded =
      LoadInTransaction(conn_, config_, delivery_stream, object_key, columns, rows);
  if (!loaded.ok() && !RollBackFailedLoad(conn_)) {
    Disconnect();
  }
  return loaded;
}

}  // namespace sluice::delivery
