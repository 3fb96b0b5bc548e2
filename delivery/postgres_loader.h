// PostgresLoader: loads a delivery batch into a PostgreSQL table with COPY, exactly once per
// object key, with libpq.
//
// Each Load runs one transaction:
//   BEGIN;
//   SELECT 1 FROM sluice_delivery_loads WHERE delivery_stream = $1 AND object_key = $2;
//     -- found: ROLLBACK, return false (loaded before: a retry after a crash or a lost answer)
//   COPY <table> [(<columns>)] FROM STDIN <CopyOptions>;   -- the rows
//   INSERT INTO sluice_delivery_loads (delivery_stream, object_key, records, loaded_at) ...;
//   COMMIT;
// so a batch retried after any failure, including a kill -9 of the host between COMMIT and the
// host's own checkpoint, is never loaded twice. The tracking table is created when missing, in the
// connection's default schema (the first on its search_path), as
//   sluice_delivery_loads (delivery_stream text, object_key text, records bigint,
//                          loaded_at timestamptz, PRIMARY KEY (delivery_stream, object_key));
// a role without CREATE privilege there (PostgreSQL 15's default for public) needs it made before.
//
// DataTableName ("table" or "schema.table") and each name of DataTableColumns ("a, b, c") are
// quoted as identifiers, so they are case-sensitive: "Tolls" is not the table tolls.
//
// Rows: each record is one row; a record without a final '\n' gets one. CopyOptions is passed to
// COPY as PostgreSQL's options text ("WITH (FORMAT csv)", "CSV HEADER", ...), except
// "JSON 'auto'" (case-insensitive, as Redshift spells it): then each record is a JSON object, and
// each column of DataTableColumns (required then) is filled from the property of the same name
// (absent or null -> NULL; objects and arrays as JSON text), sent to COPY as CSV. A record that
// is not a JSON object fails the load (INVALID_ARGUMENT, naming its index).
//
// Errors: UNAVAILABLE when the server cannot be reached, the connection broke, or the server is
// busy or shutting down (retryable); otherwise PostgreSQL's message, context and SQLSTATE as
// INVALID_ARGUMENT for bad data (SQLSTATE classes 22, 23, and records that are not JSON objects),
// FAILED_PRECONDITION for a destination set up wrong (class 42: a missing table or column, no
// privilege, bad CopyOptions; 28, 3F, 0A), INTERNAL for the rest; INVALID_ARGUMENT for a
// ConnectionString that does not parse. A broken connection is re-opened on the next Load.
//
// Time limits: connect_timeout=5 s, TCP keepalives (10 s idle, 3 probes 5 s apart),
// tcp_user_timeout=30 s and statement_timeout=10 min (through "options") unless the connection
// string sets them, so neither a lost peer nor a stuck statement blocks a Load forever.
//
// Thread-safety: not thread-safe; one loader per delivery stream, used by its pipeline thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "delivery/delivery_config.h"

struct pg_conn;

namespace sluice::delivery {

class PostgresLoader {
 public:
  // Does not connect yet (the server may be down when the host starts).
  explicit PostgresLoader(PostgresConfig config);
  ~PostgresLoader();
  PostgresLoader(const PostgresLoader&) = delete;
  PostgresLoader& operator=(const PostgresLoader&) = delete;

  // True when loaded now, false when `object_key` had been loaded for `delivery_stream` before.
  Result<bool> Load(const std::string& delivery_stream, const std::string& object_key,
                    const std::vector<std::string>& records);

 private:
  // Opens the connection and makes sure the tracking table exists. REQUIRES: none is open.
  Status Connect();
  void Disconnect();

  const PostgresConfig config_;
  pg_conn* conn_ = nullptr;
};

}  // namespace sluice::delivery
