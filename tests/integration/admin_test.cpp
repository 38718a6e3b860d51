// The admin port (admin/): /healthz, /readyz, /metrics and the status page, read the way
// operators' tools read them: /metrics through the Prometheus client library's own parser
// and scraped by a real Prometheus server; /readyz following the database as it goes and
// comes back (through a TcpProxy, so the shared PostgreSQL keeps running).

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>

#include "client.hpp"
#include "eventually.hpp"
#include "http_get.hpp"
#include "pg.hpp"
#include "readthru_process.hpp"
#include "redis_server.hpp"
#include "tcp_proxy.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTag = "adm" + std::to_string(::getpid());

std::string sections(std::uint16_t admin_port, std::uint16_t pg_port = kPgPort) {
  return "admin:\n  address: 127.0.0.1\n  port: " + std::to_string(admin_port) +
         "\npostgres:\n  dsn: \"host=127.0.0.1 port=" + std::to_string(pg_port) +
         " dbname=app user=app\"\n  connect_timeout: 500ms\n  statement_timeout: 500ms\n"
         "keyspaces:\n" +
         keyspaceRule("acct", kTag + ":acct:<id>", "SELECT $1::int AS id",
                      "    params: [id]\n    ttl: 30s\n");
}

std::string key(int id) { return kTag + ":acct:" + std::to_string(id); }

bool hasLine(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(Admin, HealthReadinessAndHttpErrors) {
  const std::uint16_t admin = freePort();
  ReadthruProcess proc(clusterBackend(), "", sections(admin));
  const HttpReply health = httpGet(admin, "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  EXPECT_TRUE(eventually([&] { return httpGet(admin, "/readyz").status == 200; }));
  EXPECT_EQ(httpGet(admin, "/readyz").body, "ready\n");

  const HttpReply missing = httpGet(admin, "/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("/metrics"), std::string::npos);
  const HttpReply post = httpRequest(admin, "POST", "/metrics");
  EXPECT_EQ(post.status, 405);
  EXPECT_NE(post.headers.find("Allow: GET, HEAD"), std::string::npos) << post.headers;
  const HttpReply head = httpRequest(admin, "HEAD", "/metrics");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_NE(head.headers.find("text/plain; version=0.0.4"), std::string::npos) << head.headers;

  // The status page: one HTML document with the keyspace in it, nothing external.
  const HttpReply page = httpGet(admin, "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.body.rfind("<!doctype html>", 0), 0u);
  EXPECT_NE(page.body.find("<td>acct</td>"), std::string::npos);
  EXPECT_EQ(page.body.find("http://"), std::string::npos);
  EXPECT_EQ(page.body.find("https://"), std::string::npos);
  EXPECT_EQ(page.body.find("<script"), std::string::npos);
}

TEST(Admin, MetricsAreWhatThePrometheusParserReadsAndCountWhatHappened) {
  const std::uint16_t admin = freePort();
  ReadthruProcess proc(clusterBackend(), "", sections(admin));
  Client c(proc.port());
  c.call({"DEL", key(1)});
  for (int i = 0; i < 3; ++i) ASSERT_EQ(show(c.call({"GET", key(1)})), "{\"id\":1}");

  const HttpReply metrics = httpGet(admin, "/metrics");
  ASSERT_EQ(metrics.status, 200);
  const CommandResult parsed =
      runWithInput(std::string("/usr/bin/python3 ") + READTHRU_PARSE_PROMETHEUS, metrics.body);
  ASSERT_EQ(parsed.status, 0) << parsed.output;
  const std::string& s = parsed.output;
  EXPECT_TRUE(hasLine(s, "# readthru_cache_hits counter")) << s;
  EXPECT_TRUE(hasLine(s, "readthru_cache_hits_total{keyspace=acct} 2")) << s;
  EXPECT_TRUE(hasLine(s, "readthru_cache_misses_total{keyspace=acct} 1")) << s;
  EXPECT_TRUE(hasLine(s, "readthru_loads_total{keyspace=acct} 1")) << s;
  EXPECT_TRUE(hasLine(s, "readthru_requests_total{command=get,result=ok} 3")) << s;
  EXPECT_TRUE(hasLine(s, "readthru_requests_total{command=del,result=ok} 1")) << s;
  EXPECT_TRUE(hasLine(s, "# readthru_request_duration_seconds histogram")) << s;
  EXPECT_TRUE(hasLine(s, "readthru_request_duration_seconds_count{} 4")) << s;
  EXPECT_TRUE(hasLine(s, "readthru_load_duration_seconds_count{keyspace=acct} 1")) << s;
  EXPECT_TRUE(hasLine(s, "readthru_load_duration_seconds_bucket{keyspace=acct,le=+Inf} 1")) << s;
  // The first bucket is 25 µs: fine enough to tell hits apart.
  EXPECT_NE(s.find("readthru_request_duration_seconds_bucket{le=2.5e-05} "), std::string::npos)
      << s;
  EXPECT_NE(s.find("readthru_backend_breaker_open{node=127.0.0.1:700"), std::string::npos) << s;
  EXPECT_TRUE(hasLine(s, "readthru_connected_clients{} 1")) << s;

  // INFO renders the same snapshot under its old names.
  const std::string info = show(c.call({"INFO", "readthru"}));
  EXPECT_NE(info.find("readthru_hits:2\r\n"), std::string::npos) << info;
  EXPECT_NE(info.find("readthru_loads:1\r\n"), std::string::npos) << info;
  c.call({"DEL", key(1)});
}

TEST(Admin, ReadinessFollowsTheDatabase) {
  TcpProxy proxy(kPgPort);
  const std::uint16_t admin = freePort();
  ReadthruProcess proc(clusterBackend(), "", sections(admin, proxy.port()));
  ASSERT_TRUE(eventually([&] { return httpGet(admin, "/readyz").status == 200; }));

  proxy.setMode(TcpProxy::Mode::kClosed);
  EXPECT_TRUE(eventually([&] { return httpGet(admin, "/readyz").status == 503; }, 20s));
  const HttpReply down = httpGet(admin, "/readyz");
  EXPECT_EQ(down.body.rfind("PostgreSQL", 0), 0u) << down.body;
  EXPECT_EQ(httpGet(admin, "/healthz").status, 200);  // alive all the same

  proxy.setMode(TcpProxy::Mode::kForward);
  EXPECT_TRUE(eventually([&] { return httpGet(admin, "/readyz").status == 200; }, 20s));
}

// Every readthru_ metric the Grafana dashboard in docs/ queries is one readthru exposes
// (a renamed family would otherwise leave an empty panel nobody notices).
TEST(Admin, TheDashboardQueriesOnlyMetricsThatExist) {
  const std::uint16_t admin = freePort();
  ReadthruProcess proc(clusterBackend(), "", sections(admin));
  Client c(proc.port());
  c.call({"GET", key(3)});
  const std::string page = httpGet(admin, "/metrics").body;
  std::ifstream in(READTHRU_DASHBOARD);
  ASSERT_TRUE(in) << READTHRU_DASHBOARD;
  const std::string dashboard((std::istreambuf_iterator<char>(in)), {});
  const std::regex name(R"(readthru_[a-z_]+)");
  std::set<std::string> names(std::sregex_token_iterator(dashboard.begin(), dashboard.end(), name),
                              std::sregex_token_iterator());
  ASSERT_GT(names.size(), 10u);
  for (std::string n : names) {
    if (n == "readthru_cdc_lag_seconds") continue;  // only with cdc: (its own tests)
    if (n.ends_with("_bucket")) n.resize(n.size() - 7);
    EXPECT_NE(page.find("# TYPE " + n + " "), std::string::npos) << n;
  }
  c.call({"DEL", key(3)});
}

// A real Prometheus server (Debian's `prometheus`) scrapes the admin port: the target is
// up and a query returns readthru's per-keyspace counter.
TEST(Admin, ARealPrometheusServerScrapesIt) {
  if (::access("/usr/bin/prometheus", X_OK) != 0) {
    FAIL() << "prometheus is not installed (scripts/install-deps installs it)";
  }
  const std::uint16_t admin = freePort();
  ReadthruProcess proc(clusterBackend(), "", sections(admin));
  Client c(proc.port());
  ASSERT_EQ(show(c.call({"GET", key(7)})), "{\"id\":7}");

  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("readthru-prom-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
         "scrape_configs:\n  - job_name: readthru\n    static_configs:\n"
         "      - targets: ['127.0.0.1:"
      << admin << "']\n";
  const std::uint16_t web = freePort();
  const pid_t prom = spawnProgram(
      "prometheus", {"--config.file=" + (dir / "prometheus.yml").string(),
                     "--storage.tsdb.path=" + (dir / "data").string(),
                     "--web.listen-address=127.0.0.1:" + std::to_string(web), "--log.level=warn"});
  ASSERT_GT(prom, 0);
  const bool up = eventually(
      [&] {
        const HttpReply t = httpGet(web, "/api/v1/targets");
        return t.status == 200 && t.body.find("\"health\":\"up\"") != std::string::npos;
      },
      60s, 250ms);
  std::string answer;
  const bool queried =
      up && eventually(
                [&] {
                  answer = httpGet(web, "/api/v1/query?query=readthru_loads_total").body;
                  return answer.find("\"keyspace\":\"acct\"") != std::string::npos;
                },
                30s, 250ms);
  const HttpReply targets = httpGet(web, "/api/v1/targets");
  ::kill(prom, SIGTERM);
  if (!reapChild(prom, 10s)) {
    ::kill(prom, SIGKILL);
    reapChild(prom, 5s);
  }
  std::filesystem::remove_all(dir);
  EXPECT_TRUE(up) << targets.body;
  EXPECT_TRUE(queried) << answer;
  EXPECT_NE(targets.body.find("\"lastError\":\"\""), std::string::npos) << targets.body;
  c.call({"DEL", key(7)});
}

}  // namespace
}  // namespace readthru::testing
