#include "backend/postgres/session.hpp"

#include <libpq-fe.h>

#include <cstring>
#include <utility>

#include "backend/postgres/row_conversion.hpp"

namespace readthru::backend::postgres {

Result<std::string> sessionOptions(const std::string& dsn, const std::string& settings) {
  char* err = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(dsn.c_str(), &err);
  if (parsed == nullptr) {
    std::string reason = err != nullptr ? oneLine(err) : "out of memory";
    if (err != nullptr) PQfreemem(err);
    return Error{"invalid dsn: " + reason};
  }
  std::string options;
  for (const PQconninfoOption* opt = parsed; opt->keyword != nullptr; ++opt) {
    if (std::strcmp(opt->keyword, "options") == 0 && opt->val != nullptr) options = opt->val;
  }
  PQconninfoFree(parsed);
  if (!options.empty()) options += ' ';
  return options + settings;
}

void appendTlsKeywords(const config::PostgresTlsConfig& tls, std::vector<const char*>& keys,
                       std::vector<const char*>& values) {
  const std::pair<const char*, const std::string*> settings[] = {{"sslmode", &tls.sslmode},
                                                                 {"sslrootcert", &tls.sslrootcert},
                                                                 {"sslcert", &tls.sslcert},
                                                                 {"sslkey", &tls.sslkey}};
  for (const auto& [key, value] : settings) {
    if (value->empty()) continue;
    keys.push_back(key);
    values.push_back(value->c_str());
  }
}

bool watchSocket(boost::asio::posix::stream_descriptor& socket, pg_conn* conn) {
  if (socket.is_open()) socket.release();
  const int fd = PQsocket(conn);
  if (fd < 0) return false;
  boost::system::error_code ec;
  socket.assign(fd, ec);
  return !ec;
}

}  // namespace readthru::backend::postgres
