#pragma once
// The port through which the invalidation side hears about committed row changes in the
// database. backend/postgres implements it with logical replication (pgoutput); the cache
// maps each change to keys and tags and confirms the position once Redis has applied the
// invalidations, so a crash between commit and invalidation loses nothing: the database
// sends everything after the last confirmed position again.

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "metrics/cells.hpp"
#include "metrics/snapshot.hpp"

namespace readthru::cache {

// A position in the database's write-ahead log (PostgreSQL's LSN as one integer).
using Lsn = std::uint64_t;

// "16/B374D848", as PostgreSQL prints an LSN.
inline std::string formatLsn(Lsn lsn) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32),
                static_cast<unsigned>(lsn & 0xffffffffU));
  return buf;
}

// One changed row of one table, with values in text form.
struct RowChange {
  enum class Op : std::uint8_t { kInsert, kUpdate, kDelete, kTruncate };
  Op op = Op::kInsert;
  std::string table;                 // "schema.name", e.g. "public.users"
  std::vector<std::string> columns;  // the table's column names, in order
  // By column index. nullopt is SQL NULL, a value the stream did not send (the old row
  // carries only the replica identity's columns unless REPLICA IDENTITY FULL), or an
  // unchanged TOASTed value. new_row is empty for kDelete and kTruncate; old_row is empty
  // unless the stream sent the old row (kDelete always; kUpdate when a key column changed
  // or the identity is FULL).
  std::vector<std::optional<std::string>> new_row;
  std::vector<std::optional<std::string>> old_row;
};

// One committed transaction, delivered whole after its Commit message.
struct Transaction {
  Lsn end_lsn = 0;                  // confirm this once the transaction is applied
  std::int64_t commit_time_us = 0;  // Unix time of the commit, in microseconds
  std::vector<RowChange> changes;   // in the order the transaction made them
};

// What the database says about a table the invalidation rules name.
struct TableInfo {
  std::string table;  // "schema.name" as resolved
  bool exists = false;
  bool identity_full = false;                 // REPLICA IDENTITY FULL
  std::vector<std::string> identity_columns;  // primary key or identity index; empty: none
  std::vector<std::string> columns;
};

class ChangeSource : public metrics::Source {
 public:
  using TransactionCallback = std::function<void(Transaction)>;
  using TablesCallback = std::function<void(Result<std::vector<TableInfo>>)>;

  // Looks up `tables` ("name" or "schema.name"). `done` runs once on the source's thread.
  virtual void describeTables(std::vector<std::string> tables, TablesCallback done) = 0;

  // Creates the publication (for `tables`) and the slot if missing, then streams from the
  // slot's confirmed position until stop(), reconnecting by itself with back-off. Each
  // committed transaction that touches a published table goes to `on_commit`, in commit
  // order, on the source's thread. After a reconnect, transactions not yet confirmed are
  // delivered again: applying one twice must be harmless.
  virtual void start(TransactionCallback on_commit) = 0;

  // Everything up to `lsn` is applied; the database may forget it. Sent with the next
  // status update (at once, not batched, so that lag counters stay honest).
  virtual void confirm(Lsn lsn) = 0;

  // Flow control, for a consumer that cannot keep up (Redis not acknowledging its
  // invalidations). While paused, on_commit is not called and the source stops reading
  // from the database: its send window fills, its sender waits, and everything past the
  // confirmed position stays in the database's log. What the source already read when
  // paused is held back (at most what one read of the connection brought) and delivered
  // first on resume(). Both are idempotent, may be called from on_commit, and hold across
  // reconnects.
  virtual void pause() = 0;
  virtual void resume() = 0;

  // Stops streaming and closes the connection; no callback runs afterwards.
  virtual void stop() = 0;

  // Whether the stream is flowing now (connected, set up, replicating). On the source's
  // thread.
  virtual bool streaming() const = 0;
};

}  // namespace readthru::cache
