#pragma once
// What the loader's connections (connection.cpp) and the change stream's
// (simple_connection.cpp) set up alike: the session's server settings, and Asio's view of
// libpq's socket.

#include <boost/asio/posix/stream_descriptor.hpp>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "config/config.hpp"

struct pg_conn;  // libpq's PGconn

namespace readthru::backend::postgres {

// The value formats row_conversion parses, and pgoutput's text values arrive in (the
// walsender's session makes them), so a changed value reads as the loaded one did.
inline constexpr const char* kValueFormats = "-c TimeZone=UTC -c DateStyle=ISO -c bytea_output=hex";

// The `options` connection keyword: the user's own `options` from `dsn`, then `settings`
// (for a repeated -c the server keeps the last, so ours win). Error: "invalid dsn: ...".
Result<std::string> sessionOptions(const std::string& dsn, const std::string& settings);

// postgres.sslmode, sslrootcert, sslcert and sslkey (those set) as libpq keywords, for
// PQconnectStartParams: appended after "dbname", so they win over what the DSN says. They
// are file names and a mode, no secret; libpq reads the files itself.
void appendTlsKeywords(const config::PostgresTlsConfig& tls, std::vector<const char*>& keys,
                       std::vector<const char*>& values);

// Points `socket` at PQsocket(). During connect libpq may close its socket and open
// another (next host, SSL fallback), possibly with the same number, so the descriptor is
// re-registered every time rather than compared. The socket stays libpq's: released,
// never closed. False when libpq has no socket or Asio refuses it.
bool watchSocket(boost::asio::posix::stream_descriptor& socket, pg_conn* conn);

}  // namespace readthru::backend::postgres
