// Read-through loading against the real stack: a Redis Cluster behind readthru and the
// stack's PostgreSQL. Each test process uses its own tables and key prefix (tag_), so runs
// never see each other's rows or keys. SQL executions are counted with pg_stat_statements.

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <thread>

#include "client.hpp"
#include "cluster_admin.hpp"
#include "pg.hpp"
#include "readthru_process.hpp"
#include "resp/writer.hpp"

namespace readthru::testing {
namespace {

const std::string kTag = "rt" + std::to_string(::getpid());

// Runs python3's json module on `json`; returns what `expr` (over `d`) prints, or
// "INVALID: ..." when the text is not JSON.
std::string pythonJson(const std::string& json, const std::string& expr) {
  const std::string path = "/tmp/" + kTag + "-json.txt";
  std::ofstream(path, std::ios::binary) << json;
  const std::string cmd =
      "python3 -c 'import json,sys\ntry:\n d=json.load(open(sys.argv[1], "
      "encoding=\"utf-8\"))\nexcept Exception as e:\n print(\"INVALID:\", "
      "e); sys.exit()\nprint(" +
      expr + ")' " + path;
  std::unique_ptr<FILE, decltype(&pclose)> p(popen(cmd.c_str(), "r"), &pclose);
  std::string out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p.get()) != nullptr) out += buf;
  std::remove(path.c_str());
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string sections(const std::string& extra_rules = "") {
  const std::string t = kTag;
  return "postgres:\n  dsn: \"" + std::string(kPgDsn) +
         "\"\n  pool_size: 2\n  statement_timeout: 2s\n"
         "keyspaces:\n"
         "  - name: user\n    pattern: \"" +
         t +
         ":user:<id>\"\n"
         "    query: \"SELECT id, name, email, active, score, meta, created, avatar FROM " +
         t +
         "_users WHERE id = $1\"\n    params: [id]\n    format: json\n    ttl: 60s\n"
         "    ttl_jitter: 10%\n    negative_ttl: 30s\n"
         "    batch_query: \"SELECT id, name, email, active, score, meta, created, avatar FROM " +
         t +
         "_users WHERE id = ANY($1)\"\n    batch_key: id\n"
         "  - name: single\n    pattern: \"" +
         t +
         ":single:<id>\"\n"
         "    query: \"SELECT id, name FROM " +
         t +
         "_users WHERE id = $1\"\n"
         "    params: [id]\n    ttl: 60s\n"
         "  - name: flag\n    pattern: \"" +
         t +
         ":flag:<name>\"\n"
         "    query: \"SELECT value FROM " +
         t +
         "_flags WHERE name = $1\"\n"
         "    params: [name]\n    format: value\n    ttl: 30s\n"
         "  - name: userh\n    pattern: \"" +
         t +
         ":userh:<id>\"\n"
         "    query: \"SELECT name, email FROM " +
         t +
         "_users WHERE id = $1\"\n"
         "    params: [id]\n    format: hash\n    ttl: 30s\n"
         "  - name: orders\n    pattern: \"" +
         t +
         ":orders:<user>\"\n"
         "    query: \"SELECT id, total FROM " +
         t +
         "_orders WHERE user_id = $1 ORDER BY id\"\n"
         "    params: [user]\n    format: rows\n    ttl: 30s\n"
         "  - name: div\n    pattern: \"" +
         t +
         ":div:<n>\"\n"
         "    query: \"SELECT 10 / ($1::int - 5) AS q\"\n"
         "    params: [n]\n    format: value\n    ttl: 30s\n" +
         extra_rules;
}

class ReadThrough : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // 1,000 clients for the stampede test, plus everything else.
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);

    Pg pg;
    const std::string t = kTag;
    pg.exec("DROP TABLE IF EXISTS " + t + "_users, " + t + "_flags, " + t + "_orders");
    pg.exec("CREATE TABLE " + t +
            "_users (id int PRIMARY KEY, name text, email text, active bool, score numeric, "
            "meta jsonb, created timestamptz, avatar bytea)");
    pg.exec("INSERT INTO " + t +
            "_users SELECT i, 'user ' || i, 'u' || i || '@example.com', i % 2 = 0, i * 1.5, "
            "jsonb_build_object('n', i), '2024-05-01 12:00:00+00', '\\x00ff'::bytea "
            "FROM generate_series(1, 500) i");
    pg.exec("UPDATE " + t +
            "_users SET name = E'quote \" back \\\\ nl \\n tab \\t ctl \\x01 é', "
            "score = 'NaN', meta = NULL, email = NULL WHERE id = 7");
    pg.exec("CREATE TABLE " + t + "_flags (name text PRIMARY KEY, value text)");
    pg.exec("INSERT INTO " + t + "_flags VALUES ('beta', 'on'), ('nul', NULL)");
    pg.exec("CREATE TABLE " + t + "_orders (id int PRIMARY KEY, user_id int, total numeric)");
    pg.exec("INSERT INTO " + t + "_orders VALUES (1, 1, 9.5), (2, 1, 20), (3, 2, 1)");
    proc_ = new ReadthruProcess(clusterBackend(), "", sections());
  }
  static void TearDownTestSuite() {
    delete proc_;
    proc_ = nullptr;
    Pg pg;
    pg.exec("DROP TABLE IF EXISTS " + kTag + "_users, " + kTag + "_flags, " + kTag + "_orders");
  }

  static std::string key(const std::string& rest) { return kTag + ":" + rest; }
  static inline ReadthruProcess* proc_ = nullptr;
};

TEST_F(ReadThrough, MissLoadsStoresAndThenHits) {
  Client c(proc_->port());
  Pg pg;
  const std::string k = key("user:1");
  const auto before = pg.calls(kTag + "_users WHERE id = $1");
  const resp::Value first = c.call({"GET", k});
  ASSERT_EQ(first.type, resp::Type::kBulk) << show(first);
  EXPECT_EQ(pythonJson(first.str,
                       "d[\"id\"], d[\"name\"], d[\"active\"], d[\"score\"], "
                       "d[\"meta\"], d[\"created\"], d[\"avatar\"]"),
            "1 user 1 False 1.5 {'n': 1} 2024-05-01T12:00:00+00:00 AP8=");
  EXPECT_EQ(pg.calls(kTag + "_users WHERE id = $1"), before + 1);
  // Stored in Redis with the keyspace's TTL (60s, 10% jitter).
  const resp::Value pttl = c.call({"PTTL", k});
  EXPECT_GE(pttl.integer, 53000) << show(pttl);
  EXPECT_LE(pttl.integer, 60000);
  // Hit: the same bytes, no SQL.
  EXPECT_EQ(c.call({"GET", k}).str, first.str);
  EXPECT_EQ(pg.calls(kTag + "_users WHERE id = $1"), before + 1);
  EXPECT_EQ(show(c.call({"EXISTS", k})), "(integer) 1");
}

TEST_F(ReadThrough, JsonEscapingParsesBack) {
  Client c(proc_->port());
  const resp::Value v = c.call({"GET", key("user:7")});
  ASSERT_EQ(v.type, resp::Type::kBulk) << show(v);
  EXPECT_EQ(pythonJson(v.str, "repr(d[\"name\"]), d[\"score\"], d[\"meta\"], d[\"email\"]"),
            "'quote \" back \\\\ nl \\n tab \\t ctl \\x01 é' NaN None None");
}

TEST_F(ReadThrough, NoRowIsCachedAsNegative) {
  Client c(proc_->port());
  Pg pg;
  const std::string k = key("user:100000");
  const auto before = pg.calls(kTag + "_users WHERE id = $1");
  EXPECT_EQ(show(c.call({"GET", k})), "(nil)");
  EXPECT_EQ(show(c.call({"GET", k})), "(nil)");
  EXPECT_EQ(pg.calls(kTag + "_users WHERE id = $1"), before + 1);
  // The data key itself stays absent: a plain GET of it shows nil, never a marker.
  EXPECT_EQ(show(c.call({"EXISTS", k})), "(integer) 0");
  // A keyspace without negative_ttl asks the database each time.
  const auto single_before = pg.calls("SELECT id, name FROM " + kTag + "_users WHERE id = $1");
  EXPECT_EQ(show(c.call({"GET", key("single:100000")})), "(nil)");
  EXPECT_EQ(show(c.call({"GET", key("single:100000")})), "(nil)");
  EXPECT_EQ(pg.calls("SELECT id, name FROM " + kTag + "_users WHERE id = $1"), single_before + 2);
}

TEST_F(ReadThrough, ValueHashAndRowsFormats) {
  Client c(proc_->port());
  EXPECT_EQ(show(c.call({"GET", key("flag:beta")})), "on");
  EXPECT_EQ(show(c.call({"GET", key("flag:nul")})), "(nil)");  // NULL value: no value
  EXPECT_EQ(show(c.call({"HGET", key("userh:3"), "email"})), "u3@example.com");
  EXPECT_EQ(show(c.call({"HGET", key("userh:3"), "nope"})), "(nil)");
  EXPECT_EQ(show(c.call({"HGETALL", key("userh:4")})), "[name, user 4, email, u4@example.com]");
  EXPECT_EQ(show(c.call({"HGETALL", key("userh:4")})), "[name, user 4, email, u4@example.com]");
  EXPECT_GT(c.call({"PTTL", key("userh:4")}).integer, 0);
  EXPECT_EQ(show(c.call({"HGETALL", key("userh:99999")})), "[]");
  const resp::Value rows = c.call({"GET", key("orders:1")});
  EXPECT_EQ(rows.str, R"([{"id":1,"total":9.5},{"id":2,"total":20}])");
  EXPECT_EQ(show(c.call({"GET", key("orders:42")})), "(nil)");
}

TEST_F(ReadThrough, MgetMixesHitsMissesAndPlainKeysAcrossSlots) {
  Client c(proc_->port());
  ASSERT_EQ(show(c.call({"SET", key("plain:a"), "A"})), "OK");
  ASSERT_EQ(show(c.call({"GET", key("flag:beta")})), "on");  // now a hit
  const resp::Value v = c.call({"MGET", key("plain:a"), key("flag:beta"), key("user:20"),
                                key("plain:none"), key("user:100001"), key("flag:missing")});
  ASSERT_EQ(v.elements.size(), 6u) << show(v);
  EXPECT_EQ(show(v.elements[0]), "A");
  EXPECT_EQ(show(v.elements[1]), "on");
  EXPECT_EQ(pythonJson(v.elements[2].str, "d[\"name\"]"), "user 20");
  EXPECT_EQ(show(v.elements[3]), "(nil)");
  EXPECT_EQ(show(v.elements[4]), "(nil)");
  EXPECT_EQ(show(v.elements[5]), "(nil)");
}

TEST_F(ReadThrough, BatchedIdsMatchByValueAndOneBadIdFailsAlone) {
  Client c(proc_->port());
  // "0031" is id 31 to PostgreSQL, batched or not; "abc" is no integer at all: the batch
  // fails, each key is retried alone, and only "abc" fails.
  const resp::Value v =
      c.call({"MGET", key("user:0031"), key("user:abc"), key("user:32"), key("user:+33")});
  ASSERT_EQ(v.elements.size(), 4u) << show(v);
  EXPECT_EQ(pythonJson(v.elements[0].str, "d[\"id\"]"), "31");
  EXPECT_EQ(show(v.elements[1])
                .rfind("(error) ERR readthru: load failed for keyspace 'user': "
                       "invalid input syntax for type integer",
                       0),
            0u)
      << show(v.elements[1]);
  EXPECT_EQ(pythonJson(v.elements[2].str, "d[\"id\"]"), "32");
  EXPECT_EQ(pythonJson(v.elements[3].str, "d[\"id\"]"), "33");
}

TEST_F(ReadThrough, MgetOfHundredColdKeysIsOneBatchQuery) {
  Client c(proc_->port());
  Pg pg;
  const std::string batch = kTag + "_users WHERE id = ANY($1)";
  const std::string single = "FROM " + kTag + "_users WHERE id = $1";
  const auto batch_before = pg.calls(batch);
  const auto single_before = pg.calls(single);
  std::vector<std::string> args{"MGET"};
  for (int i = 101; i <= 200; ++i) args.push_back(key("user:" + std::to_string(i)));
  const resp::Value v = c.call(args);
  ASSERT_EQ(v.elements.size(), 100u) << show(v);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(v.elements[i].type, resp::Type::kBulk) << i << " " << show(v.elements[i]);
    EXPECT_EQ(pythonJson(v.elements[i].str, "d[\"id\"]"), std::to_string(101 + i));
    if (HasFailure()) break;
  }
  EXPECT_EQ(pg.calls(batch), batch_before + 1);
  EXPECT_EQ(pg.calls(single), single_before);
  // The keys spread over several slots and nodes.
  std::set<std::int64_t> slots;
  for (std::size_t i = 1; i < args.size(); ++i) slots.insert(keySlot(args[i]));
  EXPECT_GT(slots.size(), 50u);
}

TEST_F(ReadThrough, PipelinedMissesShareBatchQueries) {
  Client c(proc_->port());
  Pg pg;
  const std::string batch = kTag + "_users WHERE id = ANY($1)";
  const std::string single = "FROM " + kTag + "_users WHERE id = $1";
  const auto before = pg.calls(batch) + pg.calls(single);
  std::string pipeline;
  for (int i = 201; i <= 250; ++i) {
    const std::string k = key("user:" + std::to_string(i));
    resp::appendCommand(pipeline, std::vector<std::string>{"GET", k});
  }
  c.sendRaw(pipeline);
  for (int i = 201; i <= 250; ++i) {
    const resp::Value v = c.read();
    ASSERT_EQ(v.type, resp::Type::kBulk) << show(v);
    ASSERT_NE(v.str.find("\"id\":" + std::to_string(i) + ","), std::string::npos) << v.str;
  }
  // The GET replies come back from three nodes in a few reads, so the misses may form a
  // few batches; far fewer than one query per key either way.
  const auto executions = pg.calls(batch) + pg.calls(single) - before;
  EXPECT_GE(executions, 1);
  EXPECT_LE(executions, 5);
}

TEST_F(ReadThrough, TtlJitterStaysInRange) {
  Client c(proc_->port());
  std::set<std::int64_t> seen;
  for (int i = 300; i < 330; ++i) {
    const std::string k = key("user:" + std::to_string(i));
    ASSERT_EQ(c.call({"GET", k}).type, resp::Type::kBulk);
    const std::int64_t pttl = c.call({"PTTL", k}).integer;
    EXPECT_GE(pttl, 53000);  // 60s * (1 - 10%), less the time since the fill
    EXPECT_LE(pttl, 60000);
    seen.insert(pttl / 100);
  }
  EXPECT_GT(seen.size(), 5u);  // spread, not one value
}

TEST_F(ReadThrough, SqlErrorAnswersThatKeyOnlyAndStoresNothing) {
  Client c(proc_->port());
  EXPECT_EQ(show(c.call({"GET", key("div:5")})),
            "(error) ERR readthru: load failed for keyspace 'div': division by zero");
  EXPECT_EQ(show(c.call({"EXISTS", key("div:5")})), "(integer) 0");
  EXPECT_EQ(show(c.call({"GET", key("div:6")})), "10");
  // The failure is not remembered: the next GET asks again.
  EXPECT_EQ(show(c.call({"GET", key("div:5")})),
            "(error) ERR readthru: load failed for keyspace 'div': division by zero");
}

TEST_F(ReadThrough, ThousandClientsOnTwoInstancesCauseOneQuery) {
  ReadthruProcess second(clusterBackend(), "", sections());
  Pg pg;
  const std::string k = key("user:444");
  const auto before = pg.calls(kTag + "_users WHERE id = $1");
  const auto batch_before = pg.calls(kTag + "_users WHERE id = ANY($1)");
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 1000; ++i) {
    clients.push_back(std::make_unique<Client>(i % 2 == 0 ? proc_->port() : second.port()));
  }
  for (auto& cl : clients) cl->send({"GET", k});
  for (auto& cl : clients) {
    const resp::Value v = cl->read();
    ASSERT_EQ(v.type, resp::Type::kBulk) << show(v);
    ASSERT_EQ(pythonJson(v.str, "d[\"id\"]"), "444");
    break;  // parsing 1,000 times is slow; the rest are checked below
  }
  for (std::size_t i = 1; i < clients.size(); ++i) {
    const resp::Value v = clients[i]->read();
    ASSERT_EQ(v.type, resp::Type::kBulk) << i << " " << show(v);
  }
  EXPECT_EQ(pg.calls(kTag + "_users WHERE id = $1") - before +
                pg.calls(kTag + "_users WHERE id = ANY($1)") - batch_before,
            1);
}

TEST_F(ReadThrough, InfoCountsReadThroughWork) {
  Client c(proc_->port());
  c.call({"GET", key("user:2")});
  c.call({"GET", key("user:2")});
  const resp::Value info = c.call({"INFO", "readthru"});
  EXPECT_GE(infoInteger(info.str, "readthru_hits").value_or(0), 1);
  EXPECT_GE(infoInteger(info.str, "readthru_loads").value_or(0), 1);
  EXPECT_TRUE(infoInteger(info.str, "pg_queries").has_value()) << info.str;
}

TEST(ReadThroughStart, BadSqlStopsTheStartNamingTheKeyspace) {
  const std::string config = "listen: { port: " + std::to_string(freePort()) + " }\nbackend:\n" +
                             clusterBackend() + "postgres: { dsn: \"" + kPgDsn +
                             "\" }\nkeyspaces:\n  - name: typo\n    pattern: \"typo:<id>\"\n"
                             "    query: \"SELECT nme FROM pg_class WHERE oid = $1\"\n"
                             "    params: [id]\n    ttl: 1s\n";
  const ExitResult r = runUntilExit(config, std::chrono::seconds(20));
  EXPECT_EQ(r.code, 2) << r.log;
  EXPECT_NE(r.log.find("keyspace 'typo': query: column \"nme\" does not exist"), std::string::npos)
      << r.log;
}

TEST(ReadThroughStart, OverlappingPatternsStopTheStartWithoutTheDatabase) {
  const std::string config =
      "listen: { port: " + std::to_string(freePort()) + " }\nbackend:\n" + clusterBackend() +
      "postgres: { dsn: \"host=127.0.0.1 port=1\" }\nkeyspaces:\n"
      "  - { name: a, pattern: \"user:<id>\", query: \"SELECT $1\", params: [id], ttl: 1s }\n"
      "  - { name: b, pattern: \"<kind>:42\", query: \"SELECT $1\", params: [kind], ttl: 1s }\n";
  const ExitResult r = runUntilExit(config, std::chrono::seconds(20));
  EXPECT_EQ(r.code, 2) << r.log;
  EXPECT_NE(r.log.find("keyspace 'b': pattern '<kind>:42' can match the same keys as keyspace 'a'"),
            std::string::npos)
      << r.log;
}

TEST(ReadThroughStart, UnreachableDatabaseStillServesHits) {
  // Nothing listens on this port: the database is down from readthru's point of view.
  const std::string dsn = "host=127.0.0.1 port=" + std::to_string(freePort()) + " dbname=app";
  const std::string rules = "postgres:\n  dsn: \"" + dsn +
                            "\"\n  connect_timeout: 500ms\n  statement_timeout: 500ms\n"
                            "keyspaces:\n  - name: down\n    pattern: \"" +
                            kTag +
                            ":down:<id>\"\n    query: \"SELECT $1::int AS id\"\n"
                            "    params: [id]\n    ttl: 30s\n";
  ReadthruProcess proc(clusterBackend(), "", rules);
  Client c(proc.port());
  // What Redis holds is served.
  ASSERT_EQ(show(c.call({"SET", kTag + ":down:1", "cached"})), "OK");
  EXPECT_EQ(show(c.call({"GET", kTag + ":down:1"})), "cached");
  // A miss fails at once, with the reason, and is not stored.
  const auto start = std::chrono::steady_clock::now();
  const std::string miss = show(c.call({"GET", kTag + ":down:2"}));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(miss.rfind("(error) ERR readthru: load failed for keyspace 'down': ", 0), 0u) << miss;
  EXPECT_EQ(show(c.call({"EXISTS", kTag + ":down:2"})), "(integer) 0");
  c.call({"DEL", kTag + ":down:1"});
}

}  // namespace
}  // namespace readthru::testing
