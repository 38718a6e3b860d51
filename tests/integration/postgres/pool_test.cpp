// backend/postgres Pool against the stack's PostgreSQL: prepared statements, every column
// kind, pipelining, per-query errors and timeouts, and the in-flight limit.
// Failure handling (unreachable, killed, hung database; stop) is in pool_failure_test.cpp.

#include <algorithm>
#include <string>
#include <vector>

#include "pool_harness.hpp"

namespace readthru::backend::postgres::testing {
namespace {

using cache::ColumnKind;

class PostgresPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pg_.exec("DROP TABLE IF EXISTS " + table_);
    pg_.exec("CREATE TABLE " + table_ +
             " (id int PRIMARY KEY, i8 bigint, n numeric, f float8, b bool, j json,"
             " jb jsonb, ts timestamptz, d date, by bytea, t text, nul text)");
    pg_.exec("INSERT INTO " + table_ +
             " VALUES (1, 9007199254740993, 12.50, 'NaN', true, '{\"a\": [1, 2]}',"
             " '{\"b\": {\"c\": null}}', '2024-05-01 14:00:00+02', '2024-05-01',"
             " '\\x00ff41'::bytea, E'it''s\\nmulti', NULL)");
  }
  void TearDown() override { pg_.exec("DROP TABLE IF EXISTS " + table_); }

  Pg pg_;
  const std::string table_ = uniqueName("rt_pool_kinds");
};

TEST_F(PostgresPoolTest, ReturnsEveryColumnKindNormalised) {
  Harness h({"SELECT id, i8, n, f, b, j, jb, ts, d, by, t, nul FROM " + table_ + " WHERE id = $1"});
  ASSERT_TRUE(h.waitConnected());

  ASSERT_TRUE(h.prepared[0].has_value());
  ASSERT_TRUE(h.prepared[0]->ok()) << h.prepared[0]->error().message;
  const cache::StatementShape& shape = h.prepared[0]->value();
  EXPECT_EQ(shape.param_count, 1);
  const std::vector<std::pair<std::string, ColumnKind>> want_columns = {
      {"id", ColumnKind::kInteger}, {"i8", ColumnKind::kInteger},   {"n", ColumnKind::kNumber},
      {"f", ColumnKind::kNumber},   {"b", ColumnKind::kBool},       {"j", ColumnKind::kJson},
      {"jb", ColumnKind::kJson},    {"ts", ColumnKind::kTimestamp}, {"d", ColumnKind::kTimestamp},
      {"by", ColumnKind::kBytes},   {"t", ColumnKind::kText},       {"nul", ColumnKind::kText}};
  ASSERT_EQ(shape.columns.size(), want_columns.size());
  for (std::size_t i = 0; i < want_columns.size(); ++i) {
    EXPECT_EQ(shape.columns[i].name, want_columns[i].first) << i;
    EXPECT_EQ(shape.columns[i].kind, want_columns[i].second) << i;
  }

  auto r = h.run(0, {"1"});
  ASSERT_TRUE(r && r->ok()) << (r ? r->error().message : "no answer");
  ASSERT_EQ((*r)->columns.size(), want_columns.size());
  EXPECT_EQ((*r)->columns[7].kind, ColumnKind::kTimestamp);
  ASSERT_EQ((*r)->rows.size(), 1u);
  const auto& row = (*r)->rows[0];
  const std::vector<std::optional<std::string>> want = {
      "1",
      "9007199254740993",
      "12.50",
      "NaN",
      "true",
      "{\"a\": [1, 2]}",
      "{\"b\": {\"c\": null}}",
      "2024-05-01T12:00:00+00:00",  // TimeZone=UTC on every session
      "2024-05-01",
      std::string("\x00\xff"
                  "A",
                  3),
      "it's\nmulti",
      std::nullopt};
  EXPECT_EQ(row, want);

  auto none = h.run(0, {"2"});
  ASSERT_TRUE(none && none->ok());
  EXPECT_EQ((*none)->columns.size(), want_columns.size());
  EXPECT_TRUE((*none)->rows.empty());
  EXPECT_EQ(h.prepared_calls, 1);
}

TEST(PostgresPool, ManyInFlightOnOneConnectionAnswerInOrder) {
  Harness h({"SELECT $1::int AS n, pg_backend_pid() AS pid"}, {.connections = 1});
  ASSERT_TRUE(h.waitConnected());
  constexpr int kQueries = 200;
  std::vector<int> order;
  std::vector<std::string> pids;
  int errors = 0;
  for (int i = 0; i < kQueries; ++i) {
    h.pool->query(0, {std::to_string(i)}, [&, i](Result<cache::RowSet> r) {
      if (!r.ok() || r->rows.size() != 1 || *r->rows[0][0] != std::to_string(i)) {
        ++errors;
        return;
      }
      order.push_back(i);
      pids.push_back(*r->rows[0][1]);
    });
  }
  ASSERT_TRUE(h.runUntil([&] { return static_cast<int>(order.size()) + errors == kQueries; }));
  EXPECT_EQ(errors, 0);
  for (int i = 0; i < static_cast<int>(order.size()); ++i) ASSERT_EQ(order[i], i);
  EXPECT_EQ(std::count(pids.begin(), pids.end(), pids.front()), kQueries);
  EXPECT_EQ(h.counter("pg_queries"), static_cast<std::uint64_t>(kQueries));
  EXPECT_EQ(h.counter("pg_query_errors"), 0u);
}

TEST(PostgresPool, LargeParamsAndRowsStreamThroughThePipeline) {
  // Megabytes each way: sends that cannot finish at once (PQflush returns 1) and
  // results that arrive over many reads.
  Harness h({"SELECT length($1), md5($1), repeat($1, 2)"}, {.connections = 1});
  ASSERT_TRUE(h.waitConnected());
  constexpr int kQueries = 20;
  int good = 0, answered = 0;
  for (int i = 0; i < kQueries; ++i) {
    std::string param(512 * 1024 + i, static_cast<char>('a' + i));
    h.pool->query(0, {param}, [&, param](Result<cache::RowSet> r) {
      ++answered;
      if (r.ok() && r->rows.size() == 1 && *r->rows[0][0] == std::to_string(param.size()) &&
          *r->rows[0][2] == param + param) {
        ++good;
      }
    });
  }
  ASSERT_TRUE(h.runUntil([&] { return answered == kQueries; }, 30s));
  EXPECT_EQ(good, kQueries);
}

TEST(PostgresPool, SpreadsOverConnections) {
  Harness h({"SELECT pg_backend_pid()::text, pg_sleep(0.01)"}, {.connections = 3});
  ASSERT_TRUE(h.runUntil([&] { return h.counter("pg_connections_up") == 3; }));
  std::vector<std::string> pids;
  for (int i = 0; i < 30; ++i) {
    h.pool->query(0, {}, [&](Result<cache::RowSet> r) {
      pids.push_back(r.ok() ? *r->rows[0][0] : "error: " + r.error().message);
    });
  }
  ASSERT_TRUE(h.runUntil([&] { return pids.size() == 30; }));
  std::sort(pids.begin(), pids.end());
  EXPECT_EQ(std::unique(pids.begin(), pids.end()) - pids.begin(), 3);
}

TEST(PostgresPool, StatementThatDoesNotPrepareIsReportedAndRefused) {
  Harness h({"SELECT no_such_column FROM pg_class WHERE relname = $1", "SELECT 1"});
  ASSERT_TRUE(h.waitConnected());
  ASSERT_TRUE(h.prepared[0].has_value());
  ASSERT_FALSE(h.prepared[0]->ok());
  EXPECT_EQ(h.prepared[0]->error().message, "column \"no_such_column\" does not exist");
  ASSERT_TRUE(h.prepared[1].has_value() && h.prepared[1]->ok());

  auto r = h.run(0, {"x"});
  ASSERT_TRUE(r.has_value());
  ASSERT_FALSE(r->ok());
  EXPECT_EQ(r->error().message, "statement not prepared: column \"no_such_column\" does not exist");
  EXPECT_EQ(h.scalar(1), "1");  // the other statement and the connection are fine
}

TEST(PostgresPool, RuntimeErrorFailsOnlyItsQuery) {
  Harness h({"SELECT 10 / $1::int"});
  ASSERT_TRUE(h.waitConnected());
  // Both in the same pipeline: the Sync after the first keeps its error to itself.
  std::optional<Result<cache::RowSet>> bad, good;
  h.pool->query(0, {"0"}, [&](Result<cache::RowSet> r) { bad = std::move(r); });
  h.pool->query(0, {"5"}, [&](Result<cache::RowSet> r) { good = std::move(r); });
  ASSERT_TRUE(h.runUntil([&] { return bad && good; }));
  ASSERT_FALSE(bad->ok());
  EXPECT_EQ(bad->error().message, "division by zero");
  ASSERT_TRUE(good->ok()) << good->error().message;
  EXPECT_EQ(*(*good)->rows[0][0], "2");
  EXPECT_EQ(h.counter("pg_query_errors"), 1u);
}

TEST(PostgresPool, StatementTimeoutEndsOnlyThatQuery) {
  Harness h({"SELECT pg_sleep(1)", "SELECT pg_backend_pid()"},
            {.connections = 1, .statement_timeout = Millis{200}});
  ASSERT_TRUE(h.waitConnected());
  const std::string pid = h.scalar(1);
  const auto start = std::chrono::steady_clock::now();
  auto r = h.run(0);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.has_value());
  ASSERT_FALSE(r->ok());
  EXPECT_EQ(r->error().message, "statement timeout");
  EXPECT_LT(took, 900ms);       // the server's 200ms, not pg_sleep's 1s
  EXPECT_EQ(h.scalar(1), pid);  // same session, still working
  EXPECT_EQ(h.counter("pg_timeouts"), 1u);
  EXPECT_EQ(h.counter("pg_reconnects"), 0u);
}

TEST_F(PostgresPoolTest, WritesAreRefused) {
  Harness h({"INSERT INTO " + table_ + " (id) VALUES ($1::int)"});
  ASSERT_TRUE(h.waitConnected());
  ASSERT_TRUE(h.prepared[0].has_value() && h.prepared[0]->ok());
  auto r = h.run(0, {"7"});
  ASSERT_TRUE(r.has_value());
  ASSERT_FALSE(r->ok());
  EXPECT_EQ(r->error().message, "cannot execute INSERT in a read-only transaction");
  EXPECT_EQ(pg_.scalar("SELECT count(*) FROM " + table_ + " WHERE id = 7"), "0");
}

TEST(PostgresPool, TooManyLoadsWaiting) {
  Harness h({"SELECT pg_sleep(0.1)"}, {.connections = 1, .max_inflight = 1, .max_waiting = 1});
  ASSERT_TRUE(h.waitConnected());
  std::vector<std::optional<Result<cache::RowSet>>> got(3);
  for (auto& slot : got) {
    h.pool->query(0, {}, [&slot](Result<cache::RowSet> r) { slot = std::move(r); });
  }
  // Even the refusal arrives through the loop, never inside query().
  for (const auto& slot : got) EXPECT_FALSE(slot.has_value());
  ASSERT_TRUE(h.runUntil([&] { return got[0] && got[1] && got[2]; }));
  EXPECT_TRUE(got[0]->ok());  // running
  EXPECT_TRUE(got[1]->ok());  // waited in the queue
  ASSERT_FALSE(got[2]->ok());
  EXPECT_EQ(got[2]->error().message, "too many loads waiting");
  EXPECT_EQ(h.counter("pg_queue_full"), 1u);
}

TEST(PostgresPool, BadRequestsAreAnsweredAsynchronously) {
  Harness h({"SELECT $1::text"});
  ASSERT_TRUE(h.waitConnected());
  auto unknown = h.run(5, {"x"});
  ASSERT_TRUE(unknown && !unknown->ok());
  EXPECT_EQ(unknown->error().message, "no such statement");
  auto nul = h.run(0, {std::string("a\0b", 3)});
  ASSERT_TRUE(nul && !nul->ok());
  EXPECT_EQ(nul->error().message, "invalid parameter: contains a NUL byte");
  EXPECT_EQ(h.scalar(0, {"a'b\"c\\"}), "a'b\"c\\");  // bound, never spliced
}

}  // namespace
}  // namespace readthru::backend::postgres::testing
