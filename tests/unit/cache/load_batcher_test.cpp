#include "cache/load_batcher.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <deque>
#include <memory>

#include "common/fault.hpp"

namespace readthru::cache {
namespace {

RowSet rows(ColumnKind key_kind, std::vector<std::vector<std::optional<std::string>>> data) {
  RowSet rs;
  rs.columns = {{"id", key_kind}, {"name", ColumnKind::kText}};
  rs.rows = std::move(data);
  return rs;
}

TEST(LoadBatcher, TextArrayLiteralQuotesEveryElement) {
  EXPECT_EQ(textArrayLiteral({}), "{}");
  EXPECT_EQ(textArrayLiteral({"1", "2"}), R"({"1","2"})");
  EXPECT_EQ(textArrayLiteral({"a\"b", "c\\d", "{x,y}", "NULL", ""}),
            R"({"a\"b","c\\d","{x,y}","NULL",""})");
}

TEST(LoadBatcher, SplitHandsEachIdItsRows) {
  const RowSet rs =
      rows(ColumnKind::kText, {{"b", "Bee"}, {"a", "Ay"}, {"a", "Ay2"}, {std::nullopt, "x"}});
  auto split = splitBatch(rs, "id", false, {"a", "b", "c"});
  ASSERT_TRUE(split);
  ASSERT_EQ(split->size(), 3u);
  EXPECT_EQ((*split)[0].rows.size(), 2u);
  EXPECT_EQ(*(*split)[0].rows[1][1], "Ay2");
  EXPECT_EQ(*(*split)[1].rows[0][1], "Bee");
  EXPECT_TRUE((*split)[2].rows.empty());
  EXPECT_EQ((*split)[2].columns.size(), 2u);  // "no row" still knows its columns
}

TEST(LoadBatcher, IntegerIdsMatchByValue) {
  const RowSet rs = rows(ColumnKind::kInteger, {{"42", "x"}, {"-7", "y"}, {"0", "z"}});
  auto split = splitBatch(rs, "id", false, {"042", "+42", "-007", "-0", "4x2", "43"});
  ASSERT_TRUE(split);
  EXPECT_EQ(*(*split)[0].rows.at(0)[1], "x");
  EXPECT_EQ(*(*split)[1].rows.at(0)[1], "x");
  EXPECT_EQ(*(*split)[2].rows.at(0)[1], "y");
  EXPECT_EQ(*(*split)[3].rows.at(0)[1], "z");
  EXPECT_TRUE((*split)[4].rows.empty());
  EXPECT_TRUE((*split)[5].rows.empty());
  // Text ids compare as text: "042" is not "42".
  auto text = splitBatch(rows(ColumnKind::kText, {{"42", "x"}}), "id", false, {"042"});
  EXPECT_TRUE((*text)[0].rows.empty());
}

TEST(LoadBatcher, ValueFormatDropsTheKeyColumn) {
  auto split = splitBatch(rows(ColumnKind::kInteger, {{"1", "one"}}), "id", true, {"1"});
  ASSERT_TRUE(split);
  ASSERT_EQ((*split)[0].columns.size(), 1u);
  EXPECT_EQ((*split)[0].columns[0].name, "name");
  EXPECT_EQ((*split)[0].rows, (std::vector<std::vector<std::optional<std::string>>>{{"one"}}));
}

TEST(LoadBatcher, MissingKeyColumnIsAnError) {
  auto split = splitBatch(rows(ColumnKind::kText, {}), "user_id", false, {"1"});
  ASSERT_FALSE(split);
  EXPECT_EQ(split.error().message, "batch_key 'user_id' is not in the batch result");
}

// A database that answers only when the test says so: what the batcher sent, in order.
class HeldLoader : public SourceLoader {
 public:
  struct Call {
    std::size_t statement;
    std::vector<std::string> params;
    RowsCallback done;
  };
  void query(std::size_t statement, std::vector<std::string> params, RowsCallback done) override {
    calls.push_back({statement, std::move(params), std::move(done)});
  }
  void collect(metrics::Sink&) const override {}
  void stop() override {}
  // Answers the oldest call with no row.
  void answerOne() {
    Call c = std::move(calls.front());
    calls.pop_front();
    RowSet empty;
    empty.columns = {{"id", ColumnKind::kText}};
    c.done(empty);
  }
  std::deque<Call> calls;
};

std::shared_ptr<KeyspaceRules> oneKeyspace(bool batch, int in_flight, int waiting) {
  config::KeyspaceConfig ks;
  ks.name = "u";
  ks.origin = "t.yaml:1";
  ks.pattern = "u:<id>";
  ks.query = "SELECT $1::text AS id";
  ks.params = {"id"};
  ks.ttl = Millis(1000);
  if (batch) {
    ks.batch_query = "SELECT unnest($1::text[]) AS id";
    ks.batch_key = "id";
  }
  ks.max_loads_in_flight = in_flight;
  ks.max_loads_waiting = waiting;
  auto built = KeyspaceRules::build({ks});
  EXPECT_TRUE(built) << built.error().message;
  return *built;
}

// Runs what is ready; restart(): a poll that ran out of work leaves the context stopped.
void run(boost::asio::io_context& io) {
  io.restart();
  io.poll();
}

struct Outcomes {
  int ok = 0;
  int refused = 0;
  SourceLoader::RowsCallback callback() {
    return [this](Result<RowSet> r) {
      if (r) {
        ++ok;
      } else if (faultOf(r.error().code) == Fault::kLoadQueueFull) {
        ++refused;
      }
    };
  }
};

TEST(LoadBatcher, InFlightLimitHoldsSingleLoadsBack) {
  auto rules = oneKeyspace(false, 2, 10);
  boost::asio::io_context io;
  HeldLoader db;
  KeyspaceStats counts;
  LoadBatcher b(io, *rules->keyspaces().front(), db, counts, {2, 10});
  Outcomes out;
  for (int i = 0; i < 5; ++i) b.add({std::to_string(i)}, out.callback());
  run(io);
  ASSERT_EQ(db.calls.size(), 2u);  // two run, three wait
  db.answerOne();
  run(io);
  ASSERT_EQ(db.calls.size(), 2u);  // one finished, one more went
  EXPECT_EQ(db.calls.back().params, std::vector<std::string>{"2"});
  while (!db.calls.empty()) {
    db.answerOne();
    run(io);
  }
  EXPECT_EQ(out.ok, 5);
  EXPECT_EQ(counts.single_queries.value(), 5u);
}

TEST(LoadBatcher, KeysThatWaitJoinTheNextBatch) {
  auto rules = oneKeyspace(true, 1, 100);
  boost::asio::io_context io;
  HeldLoader db;
  KeyspaceStats counts;
  LoadBatcher b(io, *rules->keyspaces().front(), db, counts, {1, 100});
  Outcomes out;
  b.add({"a"}, out.callback());
  run(io);
  ASSERT_EQ(db.calls.size(), 1u);
  for (int i = 0; i < 10; ++i) b.add({std::to_string(i)}, out.callback());
  run(io);
  EXPECT_EQ(db.calls.size(), 1u);  // at the limit: they wait
  db.answerOne();
  run(io);
  ASSERT_EQ(db.calls.size(), 1u);  // ...then go as one batch of ten
  EXPECT_EQ(db.calls.front().params.size(), 1u);
  EXPECT_EQ(counts.batch_queries.value(), 1u);  // the first was a lone key, the ten one batch
  db.answerOne();
  run(io);
  EXPECT_EQ(out.ok, 11);
}

TEST(LoadBatcher, PastTheWaitingLimitAKeyFailsAtOnce) {
  auto rules = oneKeyspace(false, 1, 2);
  boost::asio::io_context io;
  HeldLoader db;
  KeyspaceStats counts;
  LoadBatcher b(io, *rules->keyspaces().front(), db, counts, {1, 2});
  Outcomes out;
  for (int i = 0; i < 5; ++i) b.add({std::to_string(i)}, out.callback());
  run(io);
  EXPECT_EQ(db.calls.size(), 1u);
  EXPECT_EQ(out.refused, 2);  // one runs, two wait, two are refused
  EXPECT_EQ(counts.refused.value(), 2u);
  while (!db.calls.empty()) {
    db.answerOne();
    run(io);
  }
  EXPECT_EQ(out.ok, 3);
}

TEST(LoadBatcher, NoLimitSendsEverythingAtOnce) {
  auto rules = oneKeyspace(false, 0, 0);
  boost::asio::io_context io;
  HeldLoader db;
  KeyspaceStats counts;
  LoadBatcher b(io, *rules->keyspaces().front(), db, counts);
  Outcomes out;
  for (int i = 0; i < 50; ++i) b.add({std::to_string(i)}, out.callback());
  run(io);
  EXPECT_EQ(db.calls.size(), 50u);
  EXPECT_EQ(out.refused, 0);
}

}  // namespace
}  // namespace readthru::cache
