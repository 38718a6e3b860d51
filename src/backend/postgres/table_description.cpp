// ReplicationStream::describeTables: what the database says about the tables the
// invalidation rules name, on a short-lived connection of its own.

#include <algorithm>

#include "backend/postgres/replication_stream.hpp"
#include "backend/postgres/simple_connection.hpp"

namespace readthru::backend::postgres {

namespace {

// Generous: the catalog query is small, but a busy server should not fail it.
constexpr Millis kDescribeStatementTimeout{10000};

// One query, rows ordered by table (i), then part: 0 the table itself (schema, name,
// relreplident; NULLs if it does not exist), 1 its columns by attnum, 2 its identity
// columns in index order (the primary key for DEFAULT, the indisreplident index for
// USING INDEX).
std::string describeSql(const std::string& names_array) {
  return "WITH t AS (SELECT i, name, to_regclass(name) AS oid FROM unnest(" + names_array +
         ") WITH ORDINALITY AS u(name, i))"
         " SELECT t.i, 0, 0::bigint, n.nspname::text, c.relname::text, c.relreplident::text"
         " FROM t LEFT JOIN pg_class c ON c.oid = t.oid"
         " LEFT JOIN pg_namespace n ON n.oid = c.relnamespace"
         " UNION ALL"
         " SELECT t.i, 1, a.attnum::bigint, a.attname::text, NULL, NULL FROM t"
         " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped"
         " UNION ALL"
         " SELECT t.i, 2, k.o, a.attname::text, NULL, NULL FROM t"
         " JOIN pg_class c ON c.oid = t.oid"
         " JOIN pg_index x ON x.indrelid = c.oid AND ((c.relreplident = 'd' AND x.indisprimary)"
         " OR (c.relreplident = 'i' AND x.indisreplident))"
         " CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, o)"
         " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum"
         " ORDER BY 1, 2, 3";
}

Result<std::vector<cache::TableInfo>> tableInfos(const std::vector<std::string>& names,
                                                 const SimpleConnection::Rows& rows) {
  std::vector<cache::TableInfo> infos(names.size());
  for (std::size_t i = 0; i < names.size(); ++i) infos[i].table = names[i];
  for (const auto& row : rows) {
    if (row.size() != 6 || !row[0] || !row[1]) return Error{"unexpected catalog row"};
    const std::size_t i = std::stoul(*row[0]) - 1;
    if (i >= infos.size()) return Error{"unexpected catalog row"};
    cache::TableInfo& info = infos[i];
    if (*row[1] == "0") {
      if (!row[3] || !row[4]) continue;  // no such table
      info.exists = true;
      info.table = *row[3] + "." + *row[4];
      info.identity_full = row[5] == "f";
    } else if (*row[1] == "1") {
      info.columns.push_back(row[3].value_or(""));
    } else {
      info.identity_columns.push_back(row[3].value_or(""));
    }
  }
  return infos;
}

}  // namespace

void ReplicationStream::describeTables(std::vector<std::string> tables, TablesCallback done) {
  if (state_ == State::kStopped) return;
  SimpleConnection::Options o;
  o.dsn = options_.dsn;
  o.password = options_.password;
  o.tls = options_.tls;
  o.connect_timeout = options_.connect_timeout;
  o.statement_timeout = kDescribeStatementTimeout;
  // The callbacks hold a plain `this` and the raw connection: stop() closes every
  // describer, after which they never run. The first outcome answers; closing the
  // connection then silences the rest.
  struct Request {
    SimpleConnection* conn = nullptr;
    TablesCallback done;
  };
  auto request = std::make_shared<Request>();
  request->done = std::move(done);
  auto finish = [this, request](Result<std::vector<cache::TableInfo>> result) {
    auto it = std::find_if(describers_.begin(), describers_.end(),
                           [&](const auto& d) { return d.get() == request->conn; });
    if (it == describers_.end()) return;
    auto keep = std::move(*it);
    describers_.erase(it);
    keep->close();
    TablesCallback cb = std::move(request->done);
    if (cb) cb(std::move(result));
  };
  auto conn = std::make_shared<SimpleConnection>(
      io_, std::move(o),
      [finish](const std::string& reason) { finish(Error{"database unreachable: " + reason}); });
  request->conn = conn.get();
  describers_.push_back(conn);
  conn->connect([request, finish, tables = std::move(tables)]() mutable {
    auto names = request->conn->textArray(tables);
    if (!names) {
      finish(Error{"cannot quote the table names"});
      return;
    }
    request->conn->query(describeSql(*names),
                         [finish, tables = std::move(tables)](Result<SimpleConnection::Rows> rows) {
                           if (!rows) {
                             finish(rows.error());
                             return;
                           }
                           finish(tableInfos(tables, *rows));
                         });
  });
}

}  // namespace readthru::backend::postgres
