#pragma once
// readthru's users, built from the `auth:` config: the default user (Redis's requirepass)
// and the named ones, each with its compiled Permissions. Immutable once built; a reload
// builds a new table and sessions move to it (server/client_auth.hpp). Pure.
//
// Without `auth:` the table has only the default user, without a password ("nopass") and
// with every permission: every connection is authenticated from the start, as in a Redis
// without requirepass. With `auth:` the default user has auth.password and every command
// and key (an admin unless auth.default_admin is false), or is off when no password is
// given.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/permissions.hpp"
#include "common/result.hpp"
#include "config/config.hpp"

namespace readthru::auth {

inline constexpr std::string_view kDefaultUser = "default";

struct User {
  std::string name;
  std::string password;  // secret; empty with nopass
  bool nopass = false;   // any password is accepted (the default user without auth:)
  bool enabled = true;   // false: never authenticates (the default user without a password)
  bool admin = false;
  Permissions permissions;
};

class UserTable {
 public:
  // Errors are the config's "file:line: auth.users[1].commands: unknown command 'gett' in
  // rule '+gett'", and never hold a password.
  static Result<std::shared_ptr<const UserTable>> build(const config::AuthConfig& cfg);

  // nullptr when no such user.
  const User* find(std::string_view name) const;
  const User& defaultUser() const { return users_.front(); }

  // The user when `password` is its password (compared in constant time) and it is
  // enabled; nullptr otherwise, with no hint which of the two was wrong.
  const User* authenticate(std::string_view name, std::string_view password) const;

  // Whether a new connection must authenticate first (the default user needs a password
  // or is off), as Redis's authRequired().
  bool authRequired() const { return !defaultUser().nopass || !defaultUser().enabled; }

 private:
  std::vector<User> users_;  // the default user first
};

// Compares two secrets in time that depends on their lengths only, never on where they
// first differ.
bool constantTimeEquals(std::string_view a, std::string_view b);

}  // namespace readthru::auth
