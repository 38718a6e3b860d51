#pragma once
// One connection's authentication: which user it is (if any) and the table that user comes
// from. A connection starts as the default user when that needs no password (no auth:),
// else unauthenticated, as in Redis. Owned by its Session, used on its io thread only.
//
// Reloads: refresh() moves to the table installed last. The connection stays the user it
// authenticated as, with that user's new rules; when the user is gone (removed, or the
// default user turned off), refresh() says so and the session closes, as Redis closes the
// connections of a user ACL DELUSER removed. A password change does not log anyone out.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "auth/users.hpp"

namespace readthru::server {

class AuthState;

class ClientAuth {
 public:
  explicit ClientAuth(const AuthState& state);

  // Follows a reload; false when this connection's user no longer exists.
  bool refresh(const AuthState& state);

  std::uint64_t generation() const { return generation_; }
  bool authenticated() const { return user_ != nullptr; }
  // Null before authentication.
  const auth::User* user() const { return user_; }
  std::string_view userName() const { return name_; }
  // The default user takes any password (no auth: section): AUTH <password> is an error.
  bool defaultNoPass() const { return table_->defaultUser().nopass; }

  // AUTH / HELLO AUTH: true when `password` is `name`'s, and the connection is now that
  // user; false leaves it as it was (Redis does not log out on a wrong password).
  bool login(std::string_view name, std::string_view password);
  // RESET: back to the state of a new connection.
  void reset();

 private:
  std::shared_ptr<const auth::UserTable> table_;
  std::uint64_t generation_ = 0;
  const auth::User* user_ = nullptr;  // points into *table_
  std::string name_;                  // user_'s name, to find it again after a reload
};

}  // namespace readthru::server
