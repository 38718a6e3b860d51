#include "pg.hpp"

#include <libpq-fe.h>

#include <memory>
#include <stdexcept>

namespace readthru::testing {

Pg::Pg(const std::string& dsn) : conn_(PQconnectdb(dsn.c_str())) {
  if (PQstatus(conn_) != CONNECTION_OK) {
    const std::string message = PQerrorMessage(conn_);
    PQfinish(conn_);
    throw std::runtime_error("postgres: " + message);
  }
  exec("SET client_min_messages TO warning");  // no NOTICEs from DROP ... IF EXISTS
}

Pg::~Pg() { PQfinish(conn_); }

std::vector<std::vector<std::string>> Pg::rows(const std::string& sql) {
  std::unique_ptr<PGresult, decltype(&PQclear)> res(PQexec(conn_, sql.c_str()), &PQclear);
  const auto status = PQresultStatus(res.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    throw std::runtime_error("postgres: " + std::string(PQresultErrorMessage(res.get())) +
                             " in: " + sql);
  }
  std::vector<std::vector<std::string>> out;
  for (int r = 0; r < PQntuples(res.get()); ++r) {
    auto& row = out.emplace_back();
    for (int c = 0; c < PQnfields(res.get()); ++c) {
      row.emplace_back(PQgetvalue(res.get(), r, c), PQgetlength(res.get(), r, c));
    }
  }
  return out;
}

void Pg::exec(const std::string& sql) { rows(sql); }

std::string Pg::scalar(const std::string& sql) {
  auto r = rows(sql);
  return r.empty() || r[0].empty() ? "" : r[0][0];
}

namespace {

// `text` inside '...' in SQL.
std::string quoted(const std::string& text) {
  std::string out;
  for (char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out;
}

}  // namespace

std::int64_t Pg::calls(const std::string& fragment) {
  return std::stoll(
      scalar("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE '%" +
             quoted(fragment) + "%' AND query NOT LIKE '%pg_stat_statements%'"));
}

bool Pg::sleepingIn(const std::string& fragment) {
  return scalar(
             "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND "
             "state = 'active' AND wait_event = 'PgSleep' AND query LIKE '%" +
             quoted(fragment) + "%'") != "0";
}

}  // namespace readthru::testing
