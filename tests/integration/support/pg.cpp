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

std::int64_t Pg::calls(const std::string& fragment) {
  std::string quoted;
  for (char c : fragment) {
    quoted += c;
    if (c == '\'') quoted += '\'';
  }
  return std::stoll(
      scalar("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE '%" + quoted +
             "%' AND query NOT LIKE '%pg_stat_statements%'"));
}

}  // namespace readthru::testing
