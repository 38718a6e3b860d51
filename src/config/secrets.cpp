// Secrets in the config: passwords given inline, by environment variable or by file. The
// value never appears in an error message; only the key, the variable or the path do.

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/reader.hpp"

namespace readthru::config {
namespace {

std::string fromFile(const Reader& r, const YAML::Node& n, const std::string& key) {
  const std::string path = r.scalar(n, key);
  std::ifstream in(path, std::ios::binary);
  if (!in) r.fail(n, key, "cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  std::string value = text.str();
  // Files written by `echo` or an editor end in a newline that is not part of the secret.
  if (!value.empty() && value.back() == '\n') value.pop_back();
  if (!value.empty() && value.back() == '\r') value.pop_back();
  return value;
}

}  // namespace

std::optional<std::string> readSecret(const Reader& r, const YAML::Node& map,
                                      const std::string& prefix) {
  static constexpr const char* kKeys[] = {"password", "password_env", "password_file"};
  const char* given = nullptr;
  for (const char* k : kKeys) {
    if (!map[k]) continue;
    if (given != nullptr) {
      r.fail(map[k], Reader::join(prefix, k), std::string("cannot be used together with ") + given);
    }
    given = k;
  }
  if (given == nullptr) return std::nullopt;
  const YAML::Node n = map[given];
  const std::string key = Reader::join(prefix, given);
  std::string value;
  if (std::strcmp(given, "password") == 0) {
    value = r.scalar(n, key);
  } else if (std::strcmp(given, "password_env") == 0) {
    const std::string var = r.scalar(n, key);
    const char* env = std::getenv(var.c_str());
    if (env == nullptr) r.fail(n, key, "environment variable " + var + " is not set");
    value = env;
  } else {
    value = fromFile(r, n, key);
  }
  if (value.empty()) r.fail(n, key, "is empty (a password cannot be empty)");
  return value;
}

}  // namespace readthru::config
