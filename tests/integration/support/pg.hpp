#pragma once
// A small blocking PostgreSQL client for integration tests (libpq's synchronous API): set
// up tables, change rows, read pg_stat_statements. Failures throw.

#include <cstdint>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

struct pg_conn;

namespace readthru::testing {

// The local stack's database (scripts/stack), and its port for a TcpProxy in front of it.
inline constexpr const char* kPgDsn = "host=127.0.0.1 port=55432 dbname=app user=app";
inline constexpr std::uint16_t kPgPort = 55432;

class Pg {
 public:
  explicit Pg(const std::string& dsn = kPgDsn);
  ~Pg();
  Pg(const Pg&) = delete;
  Pg& operator=(const Pg&) = delete;

  // Runs one or more statements; throws with the database's message on error.
  void exec(const std::string& sql);
  // The rows of one query, as text ("" for NULL).
  std::vector<std::vector<std::string>> rows(const std::string& sql);
  // The first column of the first row, or "" when there is none.
  std::string scalar(const std::string& sql);

  // How many times statements whose text contains `fragment` ran, per pg_stat_statements.
  std::int64_t calls(const std::string& fragment);

  // Whether another session is inside pg_sleep() right now, running a statement whose text
  // contains `fragment`: a load that a test keeps in flight on purpose (a query with
  // pg_sleep) has reached the database and taken its snapshot.
  bool sleepingIn(const std::string& fragment);

 private:
  pg_conn* conn_ = nullptr;
};

// Drops `table` when it goes out of scope, however the test ends (declare it before
// anything that stops the database, so that it runs after the database is back).
class DropTableAtExit {
 public:
  explicit DropTableAtExit(std::string table) : table_(std::move(table)) {}
  ~DropTableAtExit() {
    try {
      Pg().exec("DROP TABLE IF EXISTS " + table_);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "could not drop " << table_ << ": " << e.what();
    }
  }
  DropTableAtExit(const DropTableAtExit&) = delete;
  DropTableAtExit& operator=(const DropTableAtExit&) = delete;

 private:
  std::string table_;
};

}  // namespace readthru::testing
