#pragma once
// The bytes of PostgreSQL logical replication, without I/O: the walsender's CopyData
// messages (XLogData 'w', primary keepalive 'k'), the pgoutput plugin's protocol version 1
// messages inside XLogData, and the standby status update 'r' we send back. Then a
// TransactionAssembler turns the decoded stream into whole cache::Transactions.
//
// Every decode function reads only inside the buffer it is given, checks that the bytes a
// declared count or length promises are there before allocating for them, and reports a
// truncated or malformed message as an Error naming the message and the field. Integers
// are big-endian, as everywhere in the PostgreSQL protocol.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "cache/change_source.hpp"
#include "common/result.hpp"

namespace readthru::backend::postgres {

using cache::Lsn;

// PostgreSQL counts time in microseconds since 2000-01-01 00:00:00 UTC.
inline constexpr std::int64_t kPgEpochUnixMicros = 946'684'800LL * 1'000'000;
inline constexpr std::int64_t unixMicrosFromPg(std::int64_t pg_us) {
  return pg_us + kPgEpochUnixMicros;
}
inline constexpr std::int64_t pgMicrosFromUnix(std::int64_t unix_us) {
  return unix_us - kPgEpochUnixMicros;
}

// ---------------------------------------------------------------------------------------
// Walsender messages (the payload of one CopyData)

// 'w': WAL data; for a logical slot, one pgoutput message.
struct XLogData {
  Lsn start = 0;
  Lsn wal_end = 0;
  std::int64_t send_time = 0;  // PostgreSQL epoch, microseconds
  std::string_view data;       // points into the decoded buffer
};

// 'k': the server's position, and whether it wants a status update at once.
struct PrimaryKeepalive {
  Lsn wal_end = 0;
  std::int64_t send_time = 0;
  bool reply_requested = false;
};

using ServerMessage = std::variant<XLogData, PrimaryKeepalive>;

// Decodes one CopyData payload from the walsender. Unknown kinds are errors.
Result<ServerMessage> decodeServerMessage(std::string_view bytes);

// 'r': tells the server what we have written, flushed and applied. The server keeps WAL
// (and the slot's restart position) behind `flush`.
struct StandbyStatus {
  Lsn write = 0;
  Lsn flush = 0;
  Lsn apply = 0;
  std::int64_t clock = 0;  // PostgreSQL epoch, microseconds
  bool reply_requested = false;
};

// The 34 bytes of a standby status update.
std::string encodeStandbyStatus(const StandbyStatus& status);

// ---------------------------------------------------------------------------------------
// pgoutput protocol version 1

// One column of a tuple: SQL NULL ('n'), an unchanged TOASTed value the server did not
// send ('u'), or a value in text form ('t').
struct TupleValue {
  enum class Kind : std::uint8_t { kNull, kUnchangedToast, kText };
  Kind kind = Kind::kNull;
  std::string text;  // kText only
};
using Tuple = std::vector<TupleValue>;

struct BeginMessage {
  Lsn final_lsn = 0;
  std::int64_t commit_time = 0;  // PostgreSQL epoch, microseconds
  std::uint32_t xid = 0;
};

struct CommitMessage {
  std::uint8_t flags = 0;
  Lsn commit_lsn = 0;
  Lsn end_lsn = 0;
  std::int64_t commit_time = 0;  // PostgreSQL epoch, microseconds
};

struct RelationColumn {
  bool key = false;  // part of the replica identity
  std::string name;
  std::uint32_t type_oid = 0;
  std::int32_t type_modifier = -1;
};

// Sent before the first change to a relation in a session, and again after it changes.
struct RelationMessage {
  std::uint32_t oid = 0;
  std::string schema;  // empty for pg_catalog
  std::string name;
  char replica_identity = 'd';  // pg_class.relreplident: d, n, f or i
  std::vector<RelationColumn> columns;
};

struct InsertMessage {
  std::uint32_t relation = 0;
  Tuple new_tuple;
};

// `old_kind` is 'K' (the old replica identity key), 'O' (the whole old row, REPLICA
// IDENTITY FULL) or 0 when the server sent no old tuple.
struct UpdateMessage {
  std::uint32_t relation = 0;
  char old_kind = 0;
  Tuple old_tuple;
  Tuple new_tuple;
};

struct DeleteMessage {
  std::uint32_t relation = 0;
  char old_kind = 'K';  // 'K' or 'O'
  Tuple old_tuple;
};

struct TruncateMessage {
  std::uint8_t options = 0;  // 1: CASCADE, 2: RESTART IDENTITY
  std::vector<std::uint32_t> relations;
};

// Origin 'O', Type 'Y' and logical decoding Message 'M': checked for shape, then ignored.
struct IgnoredMessage {
  char kind = 0;
};

using LogicalMessage = std::variant<BeginMessage, CommitMessage, RelationMessage, InsertMessage,
                                    UpdateMessage, DeleteMessage, TruncateMessage, IgnoredMessage>;

// Decodes one pgoutput message (the data of an XLogData). Trailing bytes are an error.
Result<LogicalMessage> decodeLogicalMessage(std::string_view bytes);

// ---------------------------------------------------------------------------------------
// Assembling transactions

// Keeps the relations the server described (by oid) and buffers the changes between Begin
// and Commit. One per replication session: the server describes every relation again in a
// new session, so reset() on reconnect.
class TransactionAssembler {
 public:
  // Takes the next message of the stream. Returns the finished transaction on Commit
  // (possibly with no changes: its position still needs confirming), nullopt otherwise.
  // Errors: a change to an unknown relation, a tuple whose width does not match its
  // relation, a change outside Begin/Commit, a Begin inside a transaction.
  Result<std::optional<cache::Transaction>> feed(LogicalMessage message);

  // Decodes and feeds one pgoutput message.
  Result<std::optional<cache::Transaction>> feed(std::string_view bytes);

  // A Begin arrived and its Commit has not.
  bool inTransaction() const { return open_.has_value(); }

  // Forgets relations and any open transaction.
  void reset();

 private:
  struct Relation {
    std::string table;  // "schema.name"
    std::vector<std::string> columns;
  };

  Result<const Relation*> relation(std::uint32_t oid) const;
  Result<bool> addChange(cache::RowChange::Op op, std::uint32_t oid, const Tuple* new_tuple,
                         const Tuple* old_tuple);

  std::unordered_map<std::uint32_t, Relation> relations_;
  std::optional<cache::Transaction> open_;
};

}  // namespace readthru::backend::postgres
