#include "auth/users.hpp"

#include <algorithm>

namespace readthru::auth {

bool constantTimeEquals(std::string_view a, std::string_view b) {
  // Every byte of the longer one is looked at, whatever the bytes are; volatile keeps the
  // compiler from stopping at the first difference.
  const std::size_t n = std::max(a.size(), b.size());
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    diff = static_cast<unsigned char>(diff | (x ^ y));
  }
  return diff == 0;
}

Result<std::shared_ptr<const UserTable>> UserTable::build(const config::AuthConfig& cfg) {
  auto table = std::make_shared<UserTable>();
  User def;
  def.name = std::string(kDefaultUser);
  def.permissions = Permissions::all();
  if (!cfg.enabled) {
    def.nopass = true;
    def.admin = true;
  } else {
    def.enabled = cfg.default_password.has_value();
    def.password = cfg.default_password.value_or("");
    def.admin = cfg.default_admin;
    if (!def.admin) {
      static const std::vector<std::string> kAll{"+@all"};
      static const std::vector<std::string> kAllKeys{"*"};
      auto p = Permissions::compile(kAll, kAllKeys, /*admin=*/false);
      if (!p) return p.error();
      def.permissions = std::move(*p);
    }
  }
  table->users_.push_back(std::move(def));
  for (std::size_t i = 0; i < cfg.users.size(); ++i) {
    const config::UserConfig& u = cfg.users[i];
    auto p = Permissions::compile(u.commands, u.keys, u.admin);
    if (!p) {
      return Error{u.origin + ": auth.users[" + std::to_string(i) + "] '" + u.name +
                   "': " + p.error().message};
    }
    table->users_.push_back({u.name, u.password, false, true, u.admin, std::move(*p)});
  }
  return std::shared_ptr<const UserTable>(std::move(table));
}

const User* UserTable::find(std::string_view name) const {
  auto it =
      std::find_if(users_.begin(), users_.end(), [&](const User& u) { return u.name == name; });
  return it == users_.end() ? nullptr : &*it;
}

const User* UserTable::authenticate(std::string_view name, std::string_view password) const {
  const User* user = find(name);
  if (user == nullptr || !user->enabled) {
    // Compare all the same, so that an unknown user takes as long as a wrong password.
    constantTimeEquals(password, defaultUser().password);
    return nullptr;
  }
  if (user->nopass) return user;
  return constantTimeEquals(password, user->password) ? user : nullptr;
}

}  // namespace readthru::auth
