// The `auth:` section: the default user's password and the named users. Only the shape is
// checked here; auth::UserTable compiles the rules against the command table.

#include <algorithm>

#include "config/reader.hpp"

namespace readthru::config {
namespace {

std::vector<std::string> stringList(const Reader& r, const YAML::Node& node,
                                    const std::string& key) {
  if (!node.IsSequence()) r.fail(node, key, "must be a list");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < node.size(); ++i) {
    out.push_back(r.scalar(node[i], key + "[" + std::to_string(i) + "]"));
  }
  return out;
}

// Redis refuses user names with spaces or control characters; "default" is the password
// of auth: itself.
bool validUserName(const std::string& name) {
  return !name.empty() &&
         std::all_of(name.begin(), name.end(), [](char c) { return c >= '!' && c <= '~'; });
}

UserConfig readUser(const Reader& r, const YAML::Node& node, const std::string& key) {
  r.requireMap(node, key);
  r.allowOnly(node, key,
              {"name", "password", "password_env", "password_file", "commands", "keys", "admin"});
  UserConfig user;
  user.origin = r.where(node);
  const YAML::Node name = node["name"];
  if (!name) r.fail(node, key + ".name", "is required");
  user.name = r.scalar(name, key + ".name");
  if (!validUserName(user.name)) {
    r.fail(name, key + ".name", "must be printable characters without spaces");
  }
  if (user.name == "default") {
    r.fail(name, key + ".name",
           "'default' is the default user: give its password as auth.password (or _env, _file)");
  }
  auto secret = readSecret(r, node, key);
  if (!secret) r.fail(node, key + ".password", "is required (or password_env, password_file)");
  user.password = std::move(*secret);
  if (auto n = node["commands"]) user.commands = stringList(r, n, key + ".commands");
  if (auto n = node["keys"]) user.keys = stringList(r, n, key + ".keys");
  if (auto n = node["admin"]) user.admin = r.boolean(n, key + ".admin");
  return user;
}

}  // namespace

void readAuth(const Reader& r, const YAML::Node& node, AuthConfig& out) {
  r.requireMap(node, "auth");
  r.allowOnly(node, "auth",
              {"password", "password_env", "password_file", "default_admin", "users"});
  out.enabled = true;
  out.origin = r.where(node);
  out.default_password = readSecret(r, node, "auth");
  if (auto n = node["default_admin"]) out.default_admin = r.boolean(n, "auth.default_admin");
  if (auto users = node["users"]) {
    if (!users.IsSequence()) r.fail(users, "auth.users", "must be a list of users");
    for (std::size_t i = 0; i < users.size(); ++i) {
      const std::string key = "auth.users[" + std::to_string(i) + "]";
      UserConfig user = readUser(r, users[i], key);
      for (const UserConfig& before : out.users) {
        if (before.name == user.name) {
          r.fail(users[i]["name"], key + ".name", "user '" + user.name + "' is defined twice");
        }
      }
      out.users.push_back(std::move(user));
    }
  }
  if (!out.default_password && out.users.empty()) {
    r.fail(node, "auth", "needs password (or password_env, password_file) or users");
  }
}

}  // namespace readthru::config
