// backend/postgres ReplicationStream against the stack's PostgreSQL (wal_level=logical):
// changes of every kind with their values and old keys, big and concurrent transactions,
// redelivery of what was not confirmed (after a restart and after the server drops the
// session), no redelivery of what was, the idle slot moving on, describeTables and the
// counters. Each test has its own table, publication and slot, dropped at the end.

#include "backend/postgres/replication_stream.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pg.hpp"

namespace readthru::backend::postgres {
namespace {

using namespace std::chrono_literals;
using Op = cache::RowChange::Op;
using Row = std::vector<std::optional<std::string>>;
using readthru::testing::kPgDsn;
using readthru::testing::Pg;

class ReplicationStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int sequence = 0;
    const std::string suffix = std::to_string(::getpid()) + "_" + std::to_string(++sequence);
    table_ = "rt_cdc_t_" + suffix;
    slot_ = "rt_cdc_s_" + suffix;
    publication_ = "rt_cdc_p_" + suffix;
    pg_.exec("DROP TABLE IF EXISTS " + table_);
    pg_.exec("CREATE TABLE " + table_ + " (id int PRIMARY KEY, name text, n int)");
  }

  void TearDown() override {
    stream_.reset();
    // The walsender lets go of the slot once it sees the connection close.
    const std::string active =
        "SELECT active FROM pg_replication_slots WHERE slot_name = '" + slot_ + "'";
    runUntil([&] { return pg_.scalar(active) != "t"; }, 20s);
    pg_.exec(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
        " WHERE slot_name = '" +
        slot_ + "'");
    pg_.exec("DROP PUBLICATION IF EXISTS " + publication_);
    pg_.exec("DROP TABLE IF EXISTS " + table_);
    for (const std::string& t : extra_tables_) pg_.exec("DROP TABLE IF EXISTS " + t);
  }

  ReplicationStream::Options options() const {
    ReplicationStream::Options o;
    o.dsn = kPgDsn;
    o.slot = slot_;
    o.publication = publication_;
    o.tables = {table_};
    o.status_interval = 100ms;
    return o;
  }

  // A new stream on the test's slot, started and streaming.
  void startStream() {
    stream_ = std::make_unique<ReplicationStream>(io_, options());
    stream_->start([this](cache::Transaction t) { received_.push_back(std::move(t)); });
    ASSERT_TRUE(runUntil([this] { return counter("cdc_connected") == 1; }))
        << "stream did not connect";
  }

  bool runUntil(const std::function<bool()>& done, Millis limit = 20s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < end) {
      io_.run_for(5ms);
      if (io_.stopped()) io_.restart();
    }
    return done();
  }

  bool waitReceived(std::size_t n) {
    return runUntil([&] { return received_.size() >= n; });
  }

  std::uint64_t counter(const std::string& name) const {
    if (auto v = metrics::snapshotOf(*stream_).info(name)) return static_cast<std::uint64_t>(*v);
    ADD_FAILURE() << "no counter " << name;
    return 0;
  }

  // The slot's confirmed position as the server keeps it has reached `lsn`.
  bool serverConfirmed(cache::Lsn lsn) {
    return runUntil([&] {
      return pg_.scalar("SELECT confirmed_flush_lsn >= '" + cache::formatLsn(lsn) +
                        "'::pg_lsn FROM pg_replication_slots WHERE slot_name = '" + slot_ + "'") ==
             "t";
    });
  }

  std::string qualified() const { return "public." + table_; }

  boost::asio::io_context io_;  // declared first: outlives the stream
  Pg pg_;
  std::string table_, slot_, publication_;
  std::vector<std::string> extra_tables_;
  std::unique_ptr<ReplicationStream> stream_;
  std::vector<cache::Transaction> received_;
};

const std::vector<std::string> kColumns = {"id", "name", "n"};

TEST_F(ReplicationStreamTest, InsertUpdateDeleteTruncateArriveWithValuesAndOldKey) {
  startStream();
  pg_.exec("INSERT INTO " + table_ + " VALUES (1, 'ann', 10)");
  pg_.exec("UPDATE " + table_ + " SET name = 'anne', n = NULL WHERE id = 1");
  pg_.exec("DELETE FROM " + table_ + " WHERE id = 1");
  pg_.exec("TRUNCATE " + table_);
  ASSERT_TRUE(waitReceived(4)) << received_.size();
  ASSERT_EQ(received_.size(), 4u);
  for (std::size_t i = 0; i < received_.size(); ++i) {
    ASSERT_EQ(received_[i].changes.size(), 1u) << i;
    EXPECT_EQ(received_[i].changes[0].table, qualified());
    EXPECT_EQ(received_[i].changes[0].columns, kColumns);
    EXPECT_GT(received_[i].commit_time_us, 1'700'000'000'000'000);  // a Unix time, not PG's
    if (i > 0) {
      EXPECT_GT(received_[i].end_lsn, received_[i - 1].end_lsn);
    }
  }
  const auto& ins = received_[0].changes[0];
  EXPECT_EQ(ins.op, Op::kInsert);
  EXPECT_EQ(ins.new_row, (Row{"1", "ann", "10"}));
  EXPECT_TRUE(ins.old_row.empty());

  const auto& upd = received_[1].changes[0];
  EXPECT_EQ(upd.op, Op::kUpdate);
  EXPECT_EQ(upd.new_row, (Row{"1", "anne", std::nullopt}));
  EXPECT_TRUE(upd.old_row.empty());  // the key did not change

  const auto& del = received_[2].changes[0];
  EXPECT_EQ(del.op, Op::kDelete);
  EXPECT_EQ(del.old_row, (Row{"1", std::nullopt, std::nullopt}));
  EXPECT_TRUE(del.new_row.empty());

  const auto& trunc = received_[3].changes[0];
  EXPECT_EQ(trunc.op, Op::kTruncate);
  EXPECT_TRUE(trunc.new_row.empty());
  EXPECT_TRUE(trunc.old_row.empty());
}

TEST_F(ReplicationStreamTest, UpdateOfThePrimaryKeyCarriesTheOldKey) {
  startStream();
  pg_.exec("INSERT INTO " + table_ + " VALUES (1, 'ann', 10)");
  pg_.exec("UPDATE " + table_ + " SET id = 2 WHERE id = 1");
  ASSERT_TRUE(waitReceived(2));
  const auto& upd = received_[1].changes.at(0);
  EXPECT_EQ(upd.op, Op::kUpdate);
  EXPECT_EQ(upd.old_row, (Row{"1", std::nullopt, std::nullopt}));
  EXPECT_EQ(upd.new_row, (Row{"2", "ann", "10"}));
}

TEST_F(ReplicationStreamTest, FiveHundredRowsArriveAsOneTransaction) {
  startStream();
  pg_.exec("INSERT INTO " + table_ + " SELECT g, 'row ' || g, g FROM generate_series(1, 500) AS g");
  ASSERT_TRUE(waitReceived(1));
  ASSERT_EQ(received_.size(), 1u);
  ASSERT_EQ(received_[0].changes.size(), 500u);
  for (std::size_t i = 0; i < 500; ++i) {
    const std::string id = std::to_string(i + 1);
    ASSERT_EQ(received_[0].changes[i].new_row, (Row{id, "row " + id, id})) << i;
  }
  EXPECT_EQ(counter("cdc_transactions"), 1u);
  EXPECT_EQ(counter("cdc_changes"), 500u);
}

TEST_F(ReplicationStreamTest, TransactionsArriveInCommitOrder) {
  startStream();
  Pg other;
  pg_.exec("BEGIN");
  pg_.exec("INSERT INTO " + table_ + " VALUES (1, 'first to start', 1)");
  other.exec("BEGIN");
  other.exec("INSERT INTO " + table_ + " VALUES (2, 'first to commit', 2)");
  other.exec("COMMIT");
  pg_.exec("COMMIT");
  ASSERT_TRUE(waitReceived(2));
  ASSERT_EQ(received_.size(), 2u);
  EXPECT_EQ(received_[0].changes.at(0).new_row.at(0), "2");
  EXPECT_EQ(received_[1].changes.at(0).new_row.at(0), "1");
  EXPECT_LT(received_[0].end_lsn, received_[1].end_lsn);
}

TEST_F(ReplicationStreamTest, UnconfirmedTransactionIsDeliveredAgainAfterRestart) {
  startStream();
  pg_.exec("INSERT INTO " + table_ + " VALUES (7, 'again', 1)");
  ASSERT_TRUE(waitReceived(1));
  const cache::Transaction first = received_[0];
  // Stopped without confirming; the next stream on the slot starts before it.
  stream_->stop();
  stream_.reset();
  received_.clear();
  startStream();
  ASSERT_TRUE(waitReceived(1));
  EXPECT_EQ(received_[0].end_lsn, first.end_lsn);
  ASSERT_EQ(received_[0].changes.size(), 1u);
  EXPECT_EQ(received_[0].changes[0].new_row, (Row{"7", "again", "1"}));
}

TEST_F(ReplicationStreamTest, ConfirmedTransactionIsNotDeliveredAgain) {
  startStream();
  pg_.exec("INSERT INTO " + table_ + " VALUES (1, 'once', 1)");
  ASSERT_TRUE(waitReceived(1));
  stream_->confirm(received_[0].end_lsn);
  ASSERT_TRUE(serverConfirmed(received_[0].end_lsn));
  stream_.reset();
  received_.clear();
  pg_.exec("INSERT INTO " + table_ + " VALUES (2, 'after', 2)");
  startStream();
  ASSERT_TRUE(waitReceived(1));
  // Give a wrongly redelivered first transaction every chance to show up too.
  pg_.exec("INSERT INTO " + table_ + " VALUES (3, 'marker', 3)");
  ASSERT_TRUE(waitReceived(2));
  ASSERT_EQ(received_.size(), 2u);
  EXPECT_EQ(received_[0].changes.at(0).new_row.at(0), "2");
  EXPECT_EQ(received_[1].changes.at(0).new_row.at(0), "3");
}

TEST_F(ReplicationStreamTest, ReconnectsAfterTheServerDropsTheSessionAndDeliversAgain) {
  startStream();
  pg_.exec("INSERT INTO " + table_ + " VALUES (1, 'kept', 1)");
  ASSERT_TRUE(waitReceived(1));
  pg_.exec(
      "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots"
      " WHERE slot_name = '" +
      slot_ + "'");
  ASSERT_TRUE(runUntil([this] { return counter("cdc_reconnects") == 1; }));
  ASSERT_TRUE(waitReceived(2));
  EXPECT_EQ(received_[1].end_lsn, received_[0].end_lsn);
  EXPECT_EQ(received_[1].changes.at(0).new_row, (Row{"1", "kept", "1"}));
  EXPECT_TRUE(runUntil([this] { return counter("cdc_connected") == 1; }));
  // Both copies are confirmed by one confirm of their end.
  stream_->confirm(received_[1].end_lsn);
  EXPECT_TRUE(serverConfirmed(received_[1].end_lsn));
  EXPECT_EQ(counter("cdc_lag_ms"), 0u);
}

TEST_F(ReplicationStreamTest, PositionCountersFollowConfirmation) {
  startStream();
  pg_.exec("INSERT INTO " + table_ + " VALUES (1, 'lag', 1)");
  ASSERT_TRUE(waitReceived(1));
  const cache::Lsn end = received_[0].end_lsn;
  // Nothing may be confirmed past a delivered transaction that is not confirmed; the
  // server's WAL end is at least that transaction's end.
  EXPECT_LT(counter("cdc_confirmed_lsn"), end);
  EXPECT_GT(counter("cdc_lag_bytes"), 0u);
  stream_->confirm(end);
  EXPECT_GE(counter("cdc_confirmed_lsn"), end);
  EXPECT_EQ(counter("cdc_lag_ms"), 0u);
  EXPECT_TRUE(serverConfirmed(end));
  EXPECT_EQ(counter("cdc_transactions"), 1u);
  EXPECT_EQ(counter("cdc_changes"), 1u);
  EXPECT_EQ(counter("cdc_reconnects"), 0u);
  stream_->stop();
  EXPECT_EQ(counter("cdc_connected"), 0u);
}

// A slot serves one session at a time: a second stream keeps retrying ("replication slot
// ... is active for PID ...") and takes over once the first one stops.
TEST_F(ReplicationStreamTest, ASecondStreamOnTheSlotWaitsForTheFirst) {
  startStream();
  std::vector<cache::Transaction> second_received;
  auto second = std::make_unique<ReplicationStream>(io_, options());
  second->start([&](cache::Transaction t) { second_received.push_back(std::move(t)); });
  auto second_connected = [&] { return metrics::snapshotOf(*second).info("cdc_connected") == 1.0; };
  runUntil([] { return false; }, 500ms);
  EXPECT_FALSE(second_connected());
  pg_.exec("INSERT INTO " + table_ + " VALUES (1, 'one', 1)");
  ASSERT_TRUE(waitReceived(1));
  stream_.reset();
  ASSERT_TRUE(runUntil(second_connected));
  ASSERT_TRUE(runUntil([&] { return !second_received.empty(); }));
  EXPECT_EQ(second_received[0].end_lsn, received_[0].end_lsn);
  second.reset();
}

// Writes to tables outside the publication send nothing, yet the slot must move on, or
// it would keep their WAL for ever.
TEST_F(ReplicationStreamTest, AnIdleSlotMovesPastUnpublishedWrites) {
  const std::string other = table_ + "_other";
  extra_tables_.push_back(other);
  pg_.exec("CREATE TABLE " + other + " (id int PRIMARY KEY)");
  startStream();
  pg_.exec("INSERT INTO " + other + " SELECT generate_series(1, 100)");
  const std::string lsn = pg_.scalar("SELECT pg_current_wal_lsn()");
  EXPECT_TRUE(runUntil([&] {
    return pg_.scalar("SELECT confirmed_flush_lsn >= '" + lsn +
                      "'::pg_lsn FROM pg_replication_slots WHERE slot_name = '" + slot_ + "'") ==
           "t";
  })) << "slot stayed behind "
      << lsn;
  EXPECT_TRUE(received_.empty());
}

TEST_F(ReplicationStreamTest, DescribesTables) {
  const std::string full = table_ + "_full", none = table_ + "_none", idx = table_ + "_idx";
  extra_tables_ = {full, none, idx};
  pg_.exec("CREATE TABLE " + full + " (k text PRIMARY KEY, v int)");
  pg_.exec("ALTER TABLE " + full + " REPLICA IDENTITY FULL");
  pg_.exec("CREATE TABLE " + none + " (a int, b int)");
  pg_.exec("ALTER TABLE " + none + " DROP COLUMN a");  // dropped columns are not listed
  pg_.exec("CREATE TABLE " + idx + " (a int NOT NULL, b int NOT NULL, c int)");
  pg_.exec("CREATE UNIQUE INDEX " + idx + "_ba ON " + idx + " (b, a)");
  pg_.exec("ALTER TABLE " + idx + " REPLICA IDENTITY USING INDEX " + idx + "_ba");
  pg_.exec("ALTER TABLE " + table_ + " DROP CONSTRAINT " + table_ + "_pkey");
  pg_.exec("ALTER TABLE " + table_ + " ADD PRIMARY KEY (n, id)");

  stream_ = std::make_unique<ReplicationStream>(io_, options());
  std::optional<Result<std::vector<cache::TableInfo>>> out;
  stream_->describeTables({"public." + table_, full, none, "no_such_table_x", idx},
                          [&](Result<std::vector<cache::TableInfo>> r) { out = std::move(r); });
  ASSERT_TRUE(runUntil([&] { return out.has_value(); }));
  ASSERT_TRUE(out->ok()) << out->error().message;
  const auto& t = out->value();
  ASSERT_EQ(t.size(), 5u);

  EXPECT_EQ(t[0].table, qualified());
  EXPECT_TRUE(t[0].exists);
  EXPECT_FALSE(t[0].identity_full);
  EXPECT_EQ(t[0].identity_columns, (std::vector<std::string>{"n", "id"}));  // key order
  EXPECT_EQ(t[0].columns, kColumns);

  EXPECT_EQ(t[1].table, "public." + full);
  EXPECT_TRUE(t[1].exists);
  EXPECT_TRUE(t[1].identity_full);
  EXPECT_EQ(t[1].columns, (std::vector<std::string>{"k", "v"}));

  EXPECT_TRUE(t[2].exists);
  EXPECT_FALSE(t[2].identity_full);
  EXPECT_TRUE(t[2].identity_columns.empty());
  EXPECT_EQ(t[2].columns, (std::vector<std::string>{"b"}));

  EXPECT_EQ(t[3].table, "no_such_table_x");
  EXPECT_FALSE(t[3].exists);
  EXPECT_TRUE(t[3].columns.empty());

  EXPECT_TRUE(t[4].exists);
  EXPECT_EQ(t[4].identity_columns, (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(t[4].columns, (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(ReplicationStreamTest, DescribeTablesReportsAnUnreachableDatabase) {
  auto o = options();
  o.dsn = "host=127.0.0.1 port=1 dbname=app user=app";
  stream_ = std::make_unique<ReplicationStream>(io_, o);
  std::optional<Result<std::vector<cache::TableInfo>>> out;
  stream_->describeTables({table_},
                          [&](Result<std::vector<cache::TableInfo>> r) { out = std::move(r); });
  ASSERT_TRUE(runUntil([&] { return out.has_value(); }));
  ASSERT_FALSE(out->ok());
  EXPECT_EQ(out->error().message.rfind("database unreachable: ", 0), 0u) << out->error().message;
}

// Stopping (or destroying) with a describe and a connect in flight runs no callback and
// leaves no handler behind that touches the stream.
// Paused from inside on_commit, the stream delivers nothing more and stops reading: with
// more WAL to send than the socket buffers hold, the walsender blocks writing to us
// (wait event WalSenderWriteData). Resumed, it delivers every transaction, in order.
TEST_F(ReplicationStreamTest, PauseStopsDeliveryAndReadingAndResumeDeliversEverything) {
  constexpr int kTransactions = 3000;  // of ~2 KiB each: more than the socket buffers hold
  stream_ = std::make_unique<ReplicationStream>(io_, options());
  stream_->start([this](cache::Transaction t) {
    received_.push_back(std::move(t));
    if (received_.size() == 1) stream_->pause();
  });
  ASSERT_TRUE(runUntil([this] { return counter("cdc_connected") == 1; }));
  pg_.exec("DO $$ BEGIN FOR i IN 1.." + std::to_string(kTransactions) + " LOOP INSERT INTO " +
           table_ + " VALUES (i, repeat('x', 2000), i); COMMIT; END LOOP; END $$");
  const std::string wait_event =
      "SELECT wait_event FROM pg_stat_activity WHERE pid = (SELECT active_pid FROM "
      "pg_replication_slots WHERE slot_name = '" +
      slot_ + "')";
  EXPECT_TRUE(runUntil([&] { return pg_.scalar(wait_event) == "WalSenderWriteData"; }, 30s))
      << "the walsender was not held up: " << pg_.scalar(wait_event);
  EXPECT_EQ(received_.size(), 1u);
  EXPECT_EQ(counter("cdc_connected"), 1u) << "the session must survive the pause";

  stream_->resume();
  ASSERT_TRUE(runUntil([&] { return received_.size() >= kTransactions; }, 40s))
      << received_.size() << " delivered";
  ASSERT_EQ(received_.size(), static_cast<std::size_t>(kTransactions));
  for (int i = 0; i < kTransactions; ++i) {
    ASSERT_EQ(received_[i].changes.at(0).new_row.at(0), std::to_string(i + 1)) << i;
  }
  stream_->confirm(received_.back().end_lsn);
  EXPECT_TRUE(serverConfirmed(received_.back().end_lsn));
}

TEST_F(ReplicationStreamTest, StopSilencesEverything) {
  bool called = false;
  stream_ = std::make_unique<ReplicationStream>(io_, options());
  stream_->start([&](cache::Transaction) { called = true; });
  stream_->describeTables({table_}, [&](Result<std::vector<cache::TableInfo>>) { called = true; });
  stream_.reset();
  runUntil([] { return false; }, 300ms);
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace readthru::backend::postgres
