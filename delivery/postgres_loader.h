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
// host's own checkpoint, is never loaded twice. The tracking table is created when missing
// (CREATE TABLE IF NOT EXISTS, in the connection's default schema).
//
// Rows: each record is one row; a record without a final '\n' gets one. CopyOptions is passed to
// COPY as PostgreSQL's options text ("WITH (FORMAT csv)", "CSV HEADER", ...), except
// "JSON 'auto'" (case-insensitive, as Redshift spells it): then each record is a JSON object, and
// each column of DataTableColumns (required then) is filled from the property of the same name
// (absent or null -> NULL; objects and arrays as JSON text), sent to COPY as CSV. A record that
// is not a JSON object fails the load (INVALID_ARGUMENT, naming its index).
//
// Errors: UNAVAILABLE when the server cannot be reached or the connection broke (retryable);
// INVALID_ARGUMENT / FAILED_PRECONDITION / INTERNAL with PostgreSQL's message (and SQLSTATE)
// otherwise, e.g. a missing table. A broken connection is re-opened on the next Load.
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
  Status Connect();

  const PostgresConfig config_;
  pg_conn* conn_ = nullptr;
};

}  // namespace sluice::delivery
