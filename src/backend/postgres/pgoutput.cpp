#include "backend/postgres/pgoutput.hpp"

#include <cstring>
#include <utility>

namespace readthru::backend::postgres {

namespace {

// Reads big-endian fields from one message. The first short read or bad value is kept
// and every later read returns zero/empty, so a decoder reads its fields straight through
// and checks ok() once; loops over declared counts check it every turn so that a
// truncated message stops them early.
class Reader {
 public:
  Reader(std::string_view bytes, const char* message) : bytes_(bytes), message_(message) {}

  bool ok() const { return error_.empty(); }
  std::size_t remaining() const { return bytes_.size() - pos_; }
  Error error() const { return Error{error_}; }

  void malformed(const std::string& why) {
    if (ok()) error_ = std::string("malformed ") + message_ + " message: " + why;
  }

  std::uint64_t uint(std::size_t width, const char* field) {
    if (!take(width, field)) return 0;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < width; ++i) {
      v = (v << 8) | static_cast<unsigned char>(bytes_[pos_ - width + i]);
    }
    return v;
  }
  std::uint8_t u8(const char* field) { return static_cast<std::uint8_t>(uint(1, field)); }
  char byte(const char* field) { return static_cast<char>(uint(1, field)); }
  std::uint16_t u16(const char* field) { return static_cast<std::uint16_t>(uint(2, field)); }
  std::uint32_t u32(const char* field) { return static_cast<std::uint32_t>(uint(4, field)); }
  std::int32_t i32(const char* field) { return static_cast<std::int32_t>(u32(field)); }
  std::uint64_t u64(const char* field) { return uint(8, field); }
  std::int64_t i64(const char* field) { return static_cast<std::int64_t>(u64(field)); }

  // A NUL-terminated string.
  std::string cstring(const char* field) {
    if (!ok()) return {};
    const std::size_t end = bytes_.find('\0', pos_);
    if (end == std::string_view::npos) {
      truncated(field);
      return {};
    }
    std::string s(bytes_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }

  std::string_view bytes(std::size_t n, const char* field) {
    if (!take(n, field)) return {};
    return bytes_.substr(pos_ - n, n);
  }

  std::string_view rest() {
    std::string_view r = ok() ? bytes_.substr(pos_) : std::string_view{};
    pos_ = bytes_.size();
    return r;
  }

  // A declared count of items of at least `min_bytes` each must fit in what is left:
  // checked before anything is reserved for them.
  bool fits(std::size_t count, std::size_t min_bytes, const char* what) {
    if (!ok()) return false;
    if (count * min_bytes <= remaining()) return true;
    truncated(what);
    return false;
  }

  void expectEnd() {
    if (ok() && remaining() != 0) {
      malformed(std::to_string(remaining()) + " unexpected trailing byte(s)");
    }
  }

 private:
  bool take(std::size_t n, const char* field) {
    if (!ok()) return false;
    if (remaining() < n) {
      truncated(field);
      return false;
    }
    pos_ += n;
    return true;
  }
  void truncated(const char* field) {
    error_ = std::string("truncated ") + message_ + " message: " + field;
  }

  std::string_view bytes_;
  std::size_t pos_ = 0;
  const char* message_;
  std::string error_;
};

// TupleData: Int16 column count, then per column a kind byte and, for 't', Int32 length
// and the text. Binary values ('b') are only sent when asked for (protocol 2+ with the
// binary option); we never ask, so they are malformed here.
Tuple readTuple(Reader& r) {
  const std::uint16_t n = r.u16("tuple column count");
  Tuple tuple;
  if (!r.fits(n, 1, "tuple columns")) return tuple;
  tuple.reserve(n);
  for (std::uint16_t i = 0; i < n && r.ok(); ++i) {
    TupleValue v;
    const char kind = r.byte("tuple column kind");
    if (!r.ok()) break;
    switch (kind) {
      case 'n':
        v.kind = TupleValue::Kind::kNull;
        break;
      case 'u':
        v.kind = TupleValue::Kind::kUnchangedToast;
        break;
      case 't': {
        v.kind = TupleValue::Kind::kText;
        const std::int32_t len = r.i32("tuple value length");
        if (len < 0) {
          r.malformed("negative value length");
          break;
        }
        v.text = std::string(r.bytes(static_cast<std::size_t>(len), "tuple value"));
        break;
      }
      default:
        r.malformed(std::string("unknown tuple column kind '") + kind + "'");
        break;
    }
    tuple.push_back(std::move(v));
  }
  return tuple;
}

template <class T>
Result<LogicalMessage> finish(Reader& r, T message) {
  r.expectEnd();
  if (!r.ok()) return r.error();
  return LogicalMessage{std::move(message)};
}

Result<LogicalMessage> decodeBegin(Reader& r) {
  BeginMessage m;
  m.final_lsn = r.u64("final LSN");
  m.commit_time = r.i64("commit time");
  m.xid = r.u32("xid");
  return finish(r, std::move(m));
}

Result<LogicalMessage> decodeCommit(Reader& r) {
  CommitMessage m;
  m.flags = r.u8("flags");
  m.commit_lsn = r.u64("commit LSN");
  m.end_lsn = r.u64("end LSN");
  m.commit_time = r.i64("commit time");
  return finish(r, std::move(m));
}

Result<LogicalMessage> decodeRelation(Reader& r) {
  RelationMessage m;
  m.oid = r.u32("relation oid");
  m.schema = r.cstring("namespace");
  m.name = r.cstring("relation name");
  m.replica_identity = r.byte("replica identity");
  const std::uint16_t n = r.u16("column count");
  // Smallest column: flags, an empty name's NUL, type oid, type modifier.
  if (r.fits(n, 1 + 1 + 4 + 4, "columns")) m.columns.reserve(n);
  for (std::uint16_t i = 0; i < n && r.ok(); ++i) {
    RelationColumn c;
    c.key = (r.u8("column flags") & 1) != 0;
    c.name = r.cstring("column name");
    c.type_oid = r.u32("column type oid");
    c.type_modifier = r.i32("column type modifier");
    m.columns.push_back(std::move(c));
  }
  return finish(r, std::move(m));
}

Result<LogicalMessage> decodeInsert(Reader& r) {
  InsertMessage m;
  m.relation = r.u32("relation oid");
  const char marker = r.byte("new tuple marker");
  if (r.ok() && marker != 'N') r.malformed("expected 'N' before the new tuple");
  m.new_tuple = readTuple(r);
  return finish(r, std::move(m));
}

Result<LogicalMessage> decodeUpdate(Reader& r) {
  UpdateMessage m;
  m.relation = r.u32("relation oid");
  char marker = r.byte("tuple marker");
  if (r.ok() && (marker == 'K' || marker == 'O')) {
    m.old_kind = marker;
    m.old_tuple = readTuple(r);
    marker = r.byte("new tuple marker");
  }
  if (r.ok() && marker != 'N') r.malformed("expected 'N' before the new tuple");
  m.new_tuple = readTuple(r);
  return finish(r, std::move(m));
}

Result<LogicalMessage> decodeDelete(Reader& r) {
  DeleteMessage m;
  m.relation = r.u32("relation oid");
  m.old_kind = r.byte("old tuple marker");
  if (r.ok() && m.old_kind != 'K' && m.old_kind != 'O') {
    r.malformed("expected 'K' or 'O' before the old tuple");
  }
  m.old_tuple = readTuple(r);
  return finish(r, std::move(m));
}

Result<LogicalMessage> decodeTruncate(Reader& r) {
  TruncateMessage m;
  const std::uint32_t n = r.u32("relation count");
  m.options = r.u8("options");
  if (r.fits(n, 4, "relation oids")) m.relations.reserve(n);
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) m.relations.push_back(r.u32("relation oid"));
  return finish(r, std::move(m));
}

// Shapes of the messages we skip, checked so that a corrupt stream shows up here rather
// than as a confusing error further on.
Result<LogicalMessage> decodeIgnored(Reader& r, char kind) {
  switch (kind) {
    case 'O':  // Origin: commit LSN on the origin, origin name
      r.u64("origin LSN");
      r.cstring("origin name");
      break;
    case 'Y':  // Type: oid, namespace, name
      r.u32("type oid");
      r.cstring("namespace");
      r.cstring("type name");
      break;
    default: {  // 'M', Message: flags, LSN, prefix, content length, content
      r.u8("flags");
      r.u64("message LSN");
      r.cstring("prefix");
      const std::int32_t len = r.i32("content length");
      if (r.ok() && len < 0) r.malformed("negative content length");
      if (r.ok()) r.bytes(static_cast<std::size_t>(len), "content");
      break;
    }
  }
  return finish(r, IgnoredMessage{kind});
}

const char* logicalMessageName(char kind) {
  switch (kind) {
    case 'B':
      return "Begin";
    case 'C':
      return "Commit";
    case 'R':
      return "Relation";
    case 'I':
      return "Insert";
    case 'U':
      return "Update";
    case 'D':
      return "Delete";
    case 'T':
      return "Truncate";
    case 'O':
      return "Origin";
    case 'Y':
      return "Type";
    case 'M':
      return "Message";
    default:
      return nullptr;
  }
}

void putUint64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Walsender messages

Result<ServerMessage> decodeServerMessage(std::string_view bytes) {
  if (bytes.empty()) return Error{"empty replication message"};
  const char kind = bytes[0];
  if (kind == 'w') {
    Reader r(bytes.substr(1), "XLogData");
    XLogData m;
    m.start = r.u64("start LSN");
    m.wal_end = r.u64("WAL end");
    m.send_time = r.i64("send time");
    m.data = r.rest();
    if (!r.ok()) return r.error();
    return ServerMessage{m};
  }
  if (kind == 'k') {
    Reader r(bytes.substr(1), "primary keepalive");
    PrimaryKeepalive m;
    m.wal_end = r.u64("WAL end");
    m.send_time = r.i64("send time");
    const std::uint8_t reply = r.u8("reply flag");
    r.expectEnd();
    if (!r.ok()) return r.error();
    m.reply_requested = reply != 0;
    return ServerMessage{m};
  }
  return Error{std::string("unknown replication message kind '") + kind + "'"};
}

std::string encodeStandbyStatus(const StandbyStatus& status) {
  std::string out;
  out.reserve(34);
  out.push_back('r');
  putUint64(out, status.write);
  putUint64(out, status.flush);
  putUint64(out, status.apply);
  putUint64(out, static_cast<std::uint64_t>(status.clock));
  out.push_back(status.reply_requested ? 1 : 0);
  return out;
}

// ---------------------------------------------------------------------------------------
// pgoutput

Result<LogicalMessage> decodeLogicalMessage(std::string_view bytes) {
  if (bytes.empty()) return Error{"empty pgoutput message"};
  const char kind = bytes[0];
  const char* name = logicalMessageName(kind);
  if (name == nullptr) return Error{std::string("unknown pgoutput message kind '") + kind + "'"};
  Reader r(bytes.substr(1), name);
  switch (kind) {
    case 'B':
      return decodeBegin(r);
    case 'C':
      return decodeCommit(r);
    case 'R':
      return decodeRelation(r);
    case 'I':
      return decodeInsert(r);
    case 'U':
      return decodeUpdate(r);
    case 'D':
      return decodeDelete(r);
    case 'T':
      return decodeTruncate(r);
    default:
      return decodeIgnored(r, kind);
  }
}

// ---------------------------------------------------------------------------------------
// TransactionAssembler

namespace {

std::vector<std::optional<std::string>> rowOf(const Tuple& tuple) {
  std::vector<std::optional<std::string>> row;
  row.reserve(tuple.size());
  for (const TupleValue& v : tuple) {
    if (v.kind == TupleValue::Kind::kText) {
      row.emplace_back(v.text);
    } else {
      row.emplace_back(std::nullopt);
    }
  }
  return row;
}

}  // namespace

void TransactionAssembler::reset() {
  relations_.clear();
  open_.reset();
}

Result<const TransactionAssembler::Relation*> TransactionAssembler::relation(
    std::uint32_t oid) const {
  auto it = relations_.find(oid);
  if (it == relations_.end()) {
    return Error{"change to unknown relation oid " + std::to_string(oid)};
  }
  return &it->second;
}

Result<bool> TransactionAssembler::addChange(cache::RowChange::Op op, std::uint32_t oid,
                                             const Tuple* new_tuple, const Tuple* old_tuple) {
  if (!open_) return Error{"change outside a transaction"};
  auto rel = relation(oid);
  if (!rel) return rel.error();
  const Relation& r = **rel;
  for (const Tuple* t : {new_tuple, old_tuple}) {
    if (t != nullptr && t->size() != r.columns.size()) {
      return Error{"tuple of " + std::to_string(t->size()) + " columns for " + r.table + " with " +
                   std::to_string(r.columns.size())};
    }
  }
  cache::RowChange change;
  change.op = op;
  change.table = r.table;
  change.columns = r.columns;
  if (new_tuple != nullptr) change.new_row = rowOf(*new_tuple);
  if (old_tuple != nullptr) change.old_row = rowOf(*old_tuple);
  open_->changes.push_back(std::move(change));
  return true;
}

Result<std::optional<cache::Transaction>> TransactionAssembler::feed(std::string_view bytes) {
  auto message = decodeLogicalMessage(bytes);
  if (!message) return message.error();
  return feed(std::move(*message));
}

Result<std::optional<cache::Transaction>> TransactionAssembler::feed(LogicalMessage message) {
  using Op = cache::RowChange::Op;
  using Out = std::optional<cache::Transaction>;
  Result<bool> added = true;
  if (auto* m = std::get_if<BeginMessage>(&message)) {
    if (open_) return Error{"Begin inside an open transaction"};
    open_.emplace();
    open_->end_lsn = m->final_lsn;
    open_->commit_time_us = unixMicrosFromPg(m->commit_time);
  } else if (auto* m = std::get_if<CommitMessage>(&message)) {
    if (!open_) return Error{"Commit without Begin"};
    cache::Transaction done = std::move(*open_);
    open_.reset();
    done.end_lsn = m->end_lsn;
    done.commit_time_us = unixMicrosFromPg(m->commit_time);
    return Out{std::move(done)};
  } else if (auto* m = std::get_if<RelationMessage>(&message)) {
    Relation r;
    r.table = (m->schema.empty() ? std::string("pg_catalog") : m->schema) + "." + m->name;
    r.columns.reserve(m->columns.size());
    for (RelationColumn& c : m->columns) r.columns.push_back(std::move(c.name));
    relations_[m->oid] = std::move(r);
  } else if (auto* m = std::get_if<InsertMessage>(&message)) {
    added = addChange(Op::kInsert, m->relation, &m->new_tuple, nullptr);
  } else if (auto* m = std::get_if<UpdateMessage>(&message)) {
    added = addChange(Op::kUpdate, m->relation, &m->new_tuple,
                      m->old_kind != 0 ? &m->old_tuple : nullptr);
  } else if (auto* m = std::get_if<DeleteMessage>(&message)) {
    added = addChange(Op::kDelete, m->relation, nullptr, &m->old_tuple);
  } else if (auto* m = std::get_if<TruncateMessage>(&message)) {
    if (!open_) return Error{"change outside a transaction"};
    // All or nothing: an unknown oid fails the message before any change is added.
    for (std::uint32_t oid : m->relations) {
      if (auto rel = relation(oid); !rel) return rel.error();
    }
    for (std::uint32_t oid : m->relations) {
      added = addChange(Op::kTruncate, oid, nullptr, nullptr);
      if (!added) break;
    }
  }
  if (!added) return added.error();
  return Out{};
}

}  // namespace readthru::backend::postgres
