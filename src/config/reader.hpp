#pragma once
// Internal to the config module: a YAML walker that knows the file name and the dotted key
// path, so that every error can say exactly where it is, and the section readers.

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace readthru::config {

class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const YAML::Node& node, const std::string& key,
                         const std::string& problem) const {
    std::ostringstream msg;
    msg << file_;
    if (node.IsDefined() && node.Mark().line >= 0) msg << ":" << node.Mark().line + 1;
    if (!key.empty()) msg << ": " << key;
    msg << ": " << problem;
    throw ConfigError(msg.str());
  }

  // "file:line" of a node, for checks made after parsing (see KeyspaceConfig::origin).
  std::string where(const YAML::Node& node) const {
    if (!node.IsDefined() || node.Mark().line < 0) return file_;
    return file_ + ":" + std::to_string(node.Mark().line + 1);
  }

  void requireMap(const YAML::Node& node, const std::string& key) const {
    if (!node.IsMap()) fail(node, key, "must be a mapping");
  }

  // Unknown keys are errors: a typo must not silently fall back to a default.
  void allowOnly(const YAML::Node& map, const std::string& prefix,
                 std::initializer_list<std::string_view> known) const {
    for (const auto& item : map) {
      const std::string name = item.first.as<std::string>();
      bool found = false;
      for (auto k : known) found = found || name == k;
      if (!found) fail(item.first, join(prefix, name), "unknown key");
    }
  }

  static std::string join(const std::string& prefix, std::string_view name) {
    return prefix.empty() ? std::string(name) : prefix + "." + std::string(name);
  }

  std::string scalar(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) fail(node, key, "must be a single value");
    return node.Scalar();
  }

  std::int64_t integer(const YAML::Node& node, const std::string& key, std::int64_t min,
                       std::int64_t max) const {
    const std::string text = scalar(node, key);
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || p != text.data() + text.size() || v < min || v > max) {
      fail(node, key,
           "must be an integer from " + std::to_string(min) + " to " + std::to_string(max) +
               ", got '" + text + "'");
    }
    return v;
  }

  bool boolean(const YAML::Node& node, const std::string& key) const {
    const std::string text = scalar(node, key);
    if (text == "true" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "no" || text == "off") return false;
    fail(node, key, "must be true or false, got '" + text + "'");
  }

  Millis duration(const YAML::Node& node, const std::string& key) const {
    const std::string text = scalar(node, key);
    auto d = parseDuration(text);
    if (!d) fail(node, key, "must be a duration such as 500ms, 2s or 1h, got '" + text + "'");
    return *d;
  }

  std::uint64_t size(const YAML::Node& node, const std::string& key) const {
    const std::string text = scalar(node, key);
    auto s = parseSize(text);
    if (!s) fail(node, key, "must be a size such as 64kb or 512mb, got '" + text + "'");
    return *s;
  }

  Endpoint endpoint(const YAML::Node& node, const std::string& key) const {
    const std::string text = scalar(node, key);
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      fail(node, key, "must be host:port, got '" + text + "'");
    }
    Endpoint ep;
    ep.host = text.substr(0, colon);
    const std::string port = text.substr(colon + 1);
    int v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc{} || p != port.data() + port.size() || v < 1 || v > 65535) {
      fail(node, key, "must be host:port with a port from 1 to 65535, got '" + text + "'");
    }
    ep.port = static_cast<std::uint16_t>(v);
    return ep;
  }

 private:
  std::string file_;
};

// secrets.cpp: a secret given as `password`, `password_env` (an environment variable) or
// `password_file` (a file; one trailing newline dropped), at most one of them, under
// `map` (whose dotted name is `prefix`). nullopt when none is given. Errors name the key,
// the variable or the file, never the secret.
std::optional<std::string> readSecret(const Reader& r, const YAML::Node& map,
                                      const std::string& prefix);

// tls.cpp: listen.tls, backend.tls, and the ssl* keys of postgres:.
void readListenTls(const Reader& r, const YAML::Node& node, ListenTlsConfig& out);
void readBackendTls(const Reader& r, const YAML::Node& node, BackendTlsConfig& out);
void readPostgresTls(const Reader& r, const YAML::Node& node, PostgresTlsConfig& out);

// auth.cpp: the `auth:` section.
void readAuth(const Reader& r, const YAML::Node& node, AuthConfig& out);

// read_through.cpp: the `postgres:` and `keyspaces:` sections.
void readPostgres(const Reader& r, const YAML::Node& node, PostgresConfig& out);
void readKeyspaces(const Reader& r, const YAML::Node& node, std::vector<KeyspaceConfig>& out);
// warm.cpp: a keyspace's `warm:` entry and `ready_after_warm`, into `ks`.
void readWarm(const Reader& r, const YAML::Node& keyspace, const std::string& key,
              KeyspaceConfig& ks);
void readCdc(const Reader& r, const YAML::Node& node, CdcConfig& out);
void readInvalidationStream(const Reader& r, const YAML::Node& node, InvalidationStreamConfig& out);

}  // namespace readthru::config
