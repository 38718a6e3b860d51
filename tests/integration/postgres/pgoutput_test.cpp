// backend/postgres pgoutput: the walsender and pgoutput byte layouts built by hand, every
// truncated prefix of each message, malformed counts and lengths, the standby status
// update's bytes, and the TransactionAssembler. Pure: no server.

#include "backend/postgres/pgoutput.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace readthru::backend::postgres {
namespace {

using Op = cache::RowChange::Op;
using Kind = TupleValue::Kind;
using Row = std::vector<std::optional<std::string>>;

// Builds a message the way the server writes it: big-endian integers, C strings.
class Bytes {
 public:
  Bytes& byte(char c) {
    s_.push_back(c);
    return *this;
  }
  Bytes& u16(std::uint16_t v) { return uint(v, 2); }
  Bytes& u32(std::uint32_t v) { return uint(v, 4); }
  Bytes& u64(std::uint64_t v) { return uint(v, 8); }
  Bytes& str(const std::string& v) {
    s_ += v;
    s_.push_back('\0');
    return *this;
  }
  Bytes& raw(const std::string& v) {
    s_ += v;
    return *this;
  }
  // TupleData: 'n', 'u', or a text value.
  Bytes& tuple(const std::vector<std::optional<std::string>>& values, int unchanged = -1) {
    u16(static_cast<std::uint16_t>(values.size()));
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (static_cast<int>(i) == unchanged) {
        byte('u');
      } else if (!values[i]) {
        byte('n');
      } else {
        byte('t').u32(static_cast<std::uint32_t>(values[i]->size())).raw(*values[i]);
      }
    }
    return *this;
  }
  std::string bytes() const { return s_; }
  operator std::string() const { return s_; }       // NOLINT: terse tests
  operator std::string_view() const { return s_; }  // NOLINT: valid while the builder lives

 private:
  Bytes& uint(std::uint64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) s_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return *this;
  }
  std::string s_;
};

constexpr std::uint32_t kUsers = 16384;
constexpr std::uint32_t kOrders = 16390;

std::string relationUsers() {
  return Bytes()
      .byte('R')
      .u32(kUsers)
      .str("public")
      .str("users")
      .byte('d')
      .u16(3)
      .byte(1)
      .str("id")
      .u32(23)
      .u32(0xffffffff)
      .byte(0)
      .str("name")
      .u32(25)
      .u32(0xffffffff)
      .byte(0)
      .str("bio")
      .u32(1043)
      .u32(104);
}

std::string relationOrders() {
  return Bytes()
      .byte('R')
      .u32(kOrders)
      .str("shop")
      .str("orders")
      .byte('f')
      .u16(1)
      .byte(1)
      .str("id")
      .u32(20)
      .u32(0xffffffff);
}

std::string begin(std::uint64_t final_lsn, std::int64_t pg_time, std::uint32_t xid) {
  return Bytes().byte('B').u64(final_lsn).u64(static_cast<std::uint64_t>(pg_time)).u32(xid);
}

std::string commit(std::uint64_t commit_lsn, std::uint64_t end_lsn, std::int64_t pg_time) {
  return Bytes()
      .byte('C')
      .byte(0)
      .u64(commit_lsn)
      .u64(end_lsn)
      .u64(static_cast<std::uint64_t>(pg_time));
}

std::string insertUser(const Row& row, int unchanged = -1) {
  return Bytes().byte('I').u32(kUsers).byte('N').tuple(row, unchanged);
}

// Every strict prefix of `message` is an error, and so is one extra byte.
void expectPrefixesFail(const std::string& message) {
  for (std::size_t n = 0; n < message.size(); ++n) {
    auto r = decodeLogicalMessage(std::string_view(message).substr(0, n));
    EXPECT_FALSE(r.ok()) << "prefix of " << n << " of " << message.size() << " bytes decoded";
  }
  auto extra = decodeLogicalMessage(message + "x");
  EXPECT_FALSE(extra.ok()) << "trailing byte accepted";
  if (!extra.ok()) {
    EXPECT_NE(extra.error().message.find("trailing"), std::string::npos);
  }
}

template <class T>
T decodeAs(const std::string& bytes) {
  auto r = decodeLogicalMessage(bytes);
  EXPECT_TRUE(r.ok()) << r.error().message;
  if (!r.ok()) return T{};
  EXPECT_TRUE(std::holds_alternative<T>(*r));
  return std::holds_alternative<T>(*r) ? std::get<T>(*r) : T{};
}

// ---------------------------------------------------------------------------------------
// Walsender messages

TEST(PgOutputServerMessage, DecodesXLogData) {
  const std::string payload = begin(0x1234, 5, 7);
  const std::string bytes =
      Bytes().byte('w').u64(0x16B374D848).u64(0x16B374D900).u64(777).raw(payload);
  auto r = decodeServerMessage(bytes);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& x = std::get<XLogData>(*r);
  EXPECT_EQ(x.start, 0x16B374D848u);
  EXPECT_EQ(x.wal_end, 0x16B374D900u);
  EXPECT_EQ(x.send_time, 777);
  EXPECT_EQ(x.data, payload);
  for (std::size_t n = 0; n < 25; ++n) {
    EXPECT_FALSE(decodeServerMessage(bytes.substr(0, n)).ok()) << n;
  }
}

TEST(PgOutputServerMessage, DecodesKeepalive) {
  const std::string bytes = Bytes().byte('k').u64(0xABCDEF0123).u64(99).byte(1);
  auto r = decodeServerMessage(bytes);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& k = std::get<PrimaryKeepalive>(*r);
  EXPECT_EQ(k.wal_end, 0xABCDEF0123u);
  EXPECT_EQ(k.send_time, 99);
  EXPECT_TRUE(k.reply_requested);
  auto no_reply = decodeServerMessage(Bytes().byte('k').u64(1).u64(2).byte(0).bytes());
  ASSERT_TRUE(no_reply.ok());
  EXPECT_FALSE(std::get<PrimaryKeepalive>(*no_reply).reply_requested);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto p = decodeServerMessage(bytes.substr(0, n));
    EXPECT_FALSE(p.ok()) << n;
  }
  auto truncated = decodeServerMessage(bytes.substr(0, 10));
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.error().message, "truncated primary keepalive message: send time");
  EXPECT_FALSE(decodeServerMessage(bytes + "x").ok());
}

TEST(PgOutputServerMessage, RejectsUnknownKind) {
  auto r = decodeServerMessage("z123");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "unknown replication message kind 'z'");
}

TEST(PgOutputServerMessage, EncodesStandbyStatusUpdate) {
  StandbyStatus s;
  s.write = 0x0102030405060708;
  s.flush = 0x1112131415161718;
  s.apply = 0x2122232425262728;
  s.clock = 0x3132333435363738;
  s.reply_requested = true;
  const std::string want = Bytes()
                               .byte('r')
                               .u64(0x0102030405060708)
                               .u64(0x1112131415161718)
                               .u64(0x2122232425262728)
                               .u64(0x3132333435363738)
                               .byte(1);
  EXPECT_EQ(encodeStandbyStatus(s), want);
  EXPECT_EQ(encodeStandbyStatus(s).size(), 34u);
  s.reply_requested = false;
  EXPECT_EQ(encodeStandbyStatus(s).back(), '\0');
}

TEST(PgOutputServerMessage, ConvertsThePostgresEpoch) {
  EXPECT_EQ(unixMicrosFromPg(0), 946684800000000);  // 2000-01-01T00:00:00Z
  EXPECT_EQ(pgMicrosFromUnix(946684800000001), 1);
  EXPECT_EQ(unixMicrosFromPg(pgMicrosFromUnix(1714567890123456)), 1714567890123456);
}

// ---------------------------------------------------------------------------------------
// pgoutput messages, one by one

TEST(PgOutputMessage, DecodesBeginAndCommit) {
  const std::string b = begin(0x5000, -42, 901);
  auto bm = decodeAs<BeginMessage>(b);
  EXPECT_EQ(bm.final_lsn, 0x5000u);
  EXPECT_EQ(bm.commit_time, -42);
  EXPECT_EQ(bm.xid, 901u);
  expectPrefixesFail(b);

  const std::string c = commit(0x4FF0, 0x5000, 123456);
  auto cm = decodeAs<CommitMessage>(c);
  EXPECT_EQ(cm.flags, 0);
  EXPECT_EQ(cm.commit_lsn, 0x4FF0u);
  EXPECT_EQ(cm.end_lsn, 0x5000u);
  EXPECT_EQ(cm.commit_time, 123456);
  expectPrefixesFail(c);
}

TEST(PgOutputMessage, DecodesRelation) {
  const std::string bytes = relationUsers();
  auto m = decodeAs<RelationMessage>(bytes);
  EXPECT_EQ(m.oid, kUsers);
  EXPECT_EQ(m.schema, "public");
  EXPECT_EQ(m.name, "users");
  EXPECT_EQ(m.replica_identity, 'd');
  ASSERT_EQ(m.columns.size(), 3u);
  EXPECT_TRUE(m.columns[0].key);
  EXPECT_EQ(m.columns[0].name, "id");
  EXPECT_EQ(m.columns[0].type_oid, 23u);
  EXPECT_EQ(m.columns[0].type_modifier, -1);
  EXPECT_FALSE(m.columns[1].key);
  EXPECT_EQ(m.columns[1].name, "name");
  EXPECT_EQ(m.columns[2].type_oid, 1043u);
  EXPECT_EQ(m.columns[2].type_modifier, 104);
  expectPrefixesFail(bytes);
}

TEST(PgOutputMessage, DecodesInsertWithNullToastAndText) {
  const std::string bytes = insertUser({"7", std::nullopt, "x"}, /*unchanged=*/2);
  auto m = decodeAs<InsertMessage>(bytes);
  EXPECT_EQ(m.relation, kUsers);
  ASSERT_EQ(m.new_tuple.size(), 3u);
  EXPECT_EQ(m.new_tuple[0].kind, Kind::kText);
  EXPECT_EQ(m.new_tuple[0].text, "7");
  EXPECT_EQ(m.new_tuple[1].kind, Kind::kNull);
  EXPECT_EQ(m.new_tuple[2].kind, Kind::kUnchangedToast);
  expectPrefixesFail(bytes);

  // Values are bytes: embedded NULs and an empty string survive.
  const std::string odd = insertUser({std::string("a\0b", 3), "", std::nullopt});
  auto o = decodeAs<InsertMessage>(odd);
  ASSERT_EQ(o.new_tuple.size(), 3u);
  EXPECT_EQ(o.new_tuple[0].text, std::string("a\0b", 3));
  EXPECT_EQ(o.new_tuple[1].kind, Kind::kText);
  EXPECT_EQ(o.new_tuple[1].text, "");
  expectPrefixesFail(odd);
}

TEST(PgOutputMessage, DecodesUpdateWithoutOldWithKeyAndWithOldRow) {
  const std::string plain = Bytes().byte('U').u32(kUsers).byte('N').tuple({"1", "ann", "b"});
  auto p = decodeAs<UpdateMessage>(plain);
  EXPECT_EQ(p.old_kind, 0);
  EXPECT_TRUE(p.old_tuple.empty());
  ASSERT_EQ(p.new_tuple.size(), 3u);
  EXPECT_EQ(p.new_tuple[1].text, "ann");
  expectPrefixesFail(plain);

  const std::string keyed = Bytes()
                                .byte('U')
                                .u32(kUsers)
                                .byte('K')
                                .tuple({"1", std::nullopt, std::nullopt})
                                .byte('N')
                                .tuple({"2", "ann", "b"});
  auto k = decodeAs<UpdateMessage>(keyed);
  EXPECT_EQ(k.old_kind, 'K');
  ASSERT_EQ(k.old_tuple.size(), 3u);
  EXPECT_EQ(k.old_tuple[0].text, "1");
  EXPECT_EQ(k.new_tuple[0].text, "2");
  expectPrefixesFail(keyed);

  const std::string full = Bytes()
                               .byte('U')
                               .u32(kUsers)
                               .byte('O')
                               .tuple({"1", "bob", "c"})
                               .byte('N')
                               .tuple({"1", "ann", "c"}, /*unchanged=*/2);
  auto f = decodeAs<UpdateMessage>(full);
  EXPECT_EQ(f.old_kind, 'O');
  EXPECT_EQ(f.old_tuple[1].text, "bob");
  EXPECT_EQ(f.new_tuple[2].kind, Kind::kUnchangedToast);
  expectPrefixesFail(full);
}

TEST(PgOutputMessage, DecodesDeleteWithKeyOrOldRow) {
  const std::string keyed =
      Bytes().byte('D').u32(kUsers).byte('K').tuple({"9", std::nullopt, std::nullopt});
  auto k = decodeAs<DeleteMessage>(keyed);
  EXPECT_EQ(k.relation, kUsers);
  EXPECT_EQ(k.old_kind, 'K');
  EXPECT_EQ(k.old_tuple[0].text, "9");
  expectPrefixesFail(keyed);

  const std::string full = Bytes().byte('D').u32(kOrders).byte('O').tuple({"5"});
  auto f = decodeAs<DeleteMessage>(full);
  EXPECT_EQ(f.old_kind, 'O');
  expectPrefixesFail(full);
}

TEST(PgOutputMessage, DecodesTruncate) {
  const std::string bytes = Bytes().byte('T').u32(2).byte(3).u32(kUsers).u32(kOrders);
  auto m = decodeAs<TruncateMessage>(bytes);
  EXPECT_EQ(m.options, 3);
  EXPECT_EQ(m.relations, (std::vector<std::uint32_t>{kUsers, kOrders}));
  expectPrefixesFail(bytes);
}

TEST(PgOutputMessage, RecognisesAndIgnoresOriginTypeAndMessage) {
  const std::string origin = Bytes().byte('O').u64(0x77).str("node_a");
  const std::string type = Bytes().byte('Y').u32(90001).str("public").str("mood");
  const std::string message =
      Bytes().byte('M').byte(1).u64(0x88).str("readthru").u32(5).raw("hello");
  for (const std::string& bytes : {origin, type, message}) {
    auto m = decodeAs<IgnoredMessage>(bytes);
    EXPECT_EQ(m.kind, bytes[0]);
    expectPrefixesFail(bytes);
  }
}

TEST(PgOutputMessage, RejectsMalformedMessages) {
  auto unknown = decodeLogicalMessage("Q");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "unknown pgoutput message kind 'Q'");
  EXPECT_FALSE(decodeLogicalMessage("").ok());

  // A column kind pgoutput v1 never sends (binary) or at all.
  const std::string binary =
      Bytes().byte('I').u32(kUsers).byte('N').u16(1).byte('b').u32(1).raw("x");
  auto b = decodeLogicalMessage(binary);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message, "malformed Insert message: unknown tuple column kind 'b'");

  // Insert needs 'N'; Delete needs 'K' or 'O'; an Update marker that is none of K, O, N.
  EXPECT_FALSE(decodeLogicalMessage(Bytes().byte('I').u32(1).byte('K').tuple({"1"})).ok());
  EXPECT_FALSE(decodeLogicalMessage(Bytes().byte('D').u32(1).byte('N').tuple({"1"})).ok());
  EXPECT_FALSE(decodeLogicalMessage(Bytes().byte('U').u32(1).byte('X').tuple({"1"})).ok());

  // Negative text length.
  auto neg = decodeLogicalMessage(
      Bytes().byte('I').u32(kUsers).byte('N').u16(1).byte('t').u32(0xffffffff));
  ASSERT_FALSE(neg.ok());
  EXPECT_EQ(neg.error().message, "malformed Insert message: negative value length");
}

// Declared counts and lengths far beyond the bytes present fail before any allocation
// for them (ASan would report a 4 GiB request; here it must simply be an error).
TEST(PgOutputMessage, HugeDeclaredSizesAreTruncationErrors) {
  auto columns = decodeLogicalMessage(Bytes().byte('I').u32(kUsers).byte('N').u16(65535).byte('n'));
  ASSERT_FALSE(columns.ok());
  EXPECT_EQ(columns.error().message, "truncated Insert message: tuple columns");

  auto length = decodeLogicalMessage(
      Bytes().byte('I').u32(kUsers).byte('N').u16(1).byte('t').u32(0x7fffffff).raw("ab"));
  ASSERT_FALSE(length.ok());
  EXPECT_EQ(length.error().message, "truncated Insert message: tuple value");

  auto rel = decodeLogicalMessage(Bytes().byte('R').u32(1).str("s").str("t").byte('d').u16(65535));
  ASSERT_FALSE(rel.ok());
  EXPECT_EQ(rel.error().message, "truncated Relation message: columns");

  auto trunc = decodeLogicalMessage(Bytes().byte('T').u32(0xffffffff).byte(0).u32(1));
  ASSERT_FALSE(trunc.ok());
  EXPECT_EQ(trunc.error().message, "truncated Truncate message: relation oids");

  auto content =
      decodeLogicalMessage(Bytes().byte('M').byte(0).u64(1).str("p").u32(0x7fffffff).raw("abc"));
  EXPECT_FALSE(content.ok());
}

// ---------------------------------------------------------------------------------------
// TransactionAssembler

// Feeds messages that must not finish a transaction.
void feedAll(TransactionAssembler& a, const std::vector<std::string>& messages) {
  for (const std::string& m : messages) {
    auto r = a.feed(m);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_FALSE(r->has_value());
  }
}

TEST(TransactionAssembler, BuildsATransactionFromEveryChangeKind) {
  TransactionAssembler a;
  const std::int64_t pg_time = 768'000'000'000'000;  // 2024-05-04
  feedAll(a, {relationUsers(), begin(0x9000, pg_time, 12), relationOrders(),
              insertUser({"1", "ann", std::nullopt}),
              // An update that kept its key: no old tuple; the TOASTed bio was not sent.
              Bytes().byte('U').u32(kUsers).byte('N').tuple({"1", "anne", "x"}, 2),
              // An update that changed the key: the old key.
              Bytes()
                  .byte('U')
                  .u32(kUsers)
                  .byte('K')
                  .tuple({"1", std::nullopt, std::nullopt})
                  .byte('N')
                  .tuple({"2", "anne", std::nullopt}),
              // REPLICA IDENTITY FULL: the whole old row.
              Bytes().byte('U').u32(kOrders).byte('O').tuple({"10"}).byte('N').tuple({"11"}),
              Bytes().byte('D').u32(kUsers).byte('K').tuple({"2", std::nullopt, std::nullopt}),
              Bytes().byte('O').u64(1).str("origin"),
              Bytes().byte('T').u32(2).byte(0).u32(kOrders).u32(kUsers)});
  EXPECT_TRUE(a.inTransaction());
  auto r = a.feed(commit(0x8FF0, 0x9008, pg_time));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->has_value());
  EXPECT_FALSE(a.inTransaction());
  const cache::Transaction& t = **r;
  EXPECT_EQ(t.end_lsn, 0x9008u);
  EXPECT_EQ(t.commit_time_us, pg_time + 946'684'800'000'000);
  ASSERT_EQ(t.changes.size(), 7u);

  const std::vector<std::string> user_columns = {"id", "name", "bio"};
  const auto& ins = t.changes[0];
  EXPECT_EQ(ins.op, Op::kInsert);
  EXPECT_EQ(ins.table, "public.users");
  EXPECT_EQ(ins.columns, user_columns);
  EXPECT_EQ(ins.new_row, (Row{"1", "ann", std::nullopt}));
  EXPECT_TRUE(ins.old_row.empty());

  EXPECT_EQ(t.changes[1].op, Op::kUpdate);
  EXPECT_EQ(t.changes[1].new_row, (Row{"1", "anne", std::nullopt}));
  EXPECT_TRUE(t.changes[1].old_row.empty());

  EXPECT_EQ(t.changes[2].op, Op::kUpdate);
  EXPECT_EQ(t.changes[2].old_row, (Row{"1", std::nullopt, std::nullopt}));
  EXPECT_EQ(t.changes[2].new_row, (Row{"2", "anne", std::nullopt}));

  EXPECT_EQ(t.changes[3].table, "shop.orders");
  EXPECT_EQ(t.changes[3].columns, std::vector<std::string>{"id"});
  EXPECT_EQ(t.changes[3].old_row, Row{"10"});
  EXPECT_EQ(t.changes[3].new_row, Row{"11"});

  EXPECT_EQ(t.changes[4].op, Op::kDelete);
  EXPECT_EQ(t.changes[4].old_row, (Row{"2", std::nullopt, std::nullopt}));
  EXPECT_TRUE(t.changes[4].new_row.empty());

  EXPECT_EQ(t.changes[5].op, Op::kTruncate);
  EXPECT_EQ(t.changes[5].table, "shop.orders");
  EXPECT_TRUE(t.changes[5].new_row.empty());
  EXPECT_TRUE(t.changes[5].old_row.empty());
  EXPECT_EQ(t.changes[6].op, Op::kTruncate);
  EXPECT_EQ(t.changes[6].table, "public.users");
}

TEST(TransactionAssembler, AnEmptyTransactionStillEndsWithItsPosition) {
  TransactionAssembler a;
  feedAll(a, {begin(0x100, 0, 1)});
  auto r = a.feed(commit(0xF0, 0x108, 0));
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->end_lsn, 0x108u);
  EXPECT_TRUE((*r)->changes.empty());
}

TEST(TransactionAssembler, AChangeToAnUnknownRelationIsAnError) {
  TransactionAssembler a;
  feedAll(a, {relationUsers(), begin(0x100, 0, 1)});
  auto r = a.feed(Bytes().byte('I').u32(999).byte('N').tuple({"1"}).bytes());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "change to unknown relation oid 999");

  auto t = a.feed(Bytes().byte('T').u32(2).byte(0).u32(kUsers).u32(999).bytes());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().message, "change to unknown relation oid 999");

  // reset() forgets relations: a new session describes them again.
  a.reset();
  EXPECT_FALSE(a.inTransaction());
  feedAll(a, {begin(0x200, 0, 2)});
  EXPECT_FALSE(a.feed(insertUser({"1", "a", "b"})).ok());
}

TEST(TransactionAssembler, RejectsChangesOutOfPlace) {
  TransactionAssembler a;
  feedAll(a, {relationUsers()});
  auto outside = a.feed(insertUser({"1", "a", "b"}));
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.error().message, "change outside a transaction");
  EXPECT_FALSE(a.feed(commit(1, 2, 0)).ok());

  feedAll(a, {begin(0x100, 0, 1)});
  EXPECT_FALSE(a.feed(begin(0x200, 0, 2)).ok());
  auto narrow = a.feed(insertUser({"1", "a"}));
  ASSERT_FALSE(narrow.ok());
  EXPECT_EQ(narrow.error().message, "tuple of 2 columns for public.users with 3");
  auto garbage = a.feed(std::string("I\x00", 2));
  EXPECT_FALSE(garbage.ok());
}

}  // namespace
}  // namespace readthru::backend::postgres
