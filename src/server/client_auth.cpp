#include "server/client_auth.hpp"

#include "server/auth_state.hpp"

namespace readthru::server {

ClientAuth::ClientAuth(const AuthState& state)
    : table_(state.current()), generation_(state.generation()) {
  reset();
}

void ClientAuth::reset() {
  const auth::User& def = table_->defaultUser();
  const bool open = def.nopass && def.enabled;
  user_ = open ? &def : nullptr;
  name_ = open ? def.name : std::string();
}

bool ClientAuth::refresh(const AuthState& state) {
  const std::uint64_t now = state.generation();
  if (now == generation_) return true;
  table_ = state.current();
  generation_ = now;
  if (user_ == nullptr) {
    reset();  // auth: removed, say: a connection waiting to authenticate needs not
    return true;
  }
  user_ = table_->find(name_);
  if (user_ != nullptr && user_->enabled) return true;
  user_ = nullptr;
  return false;
}

bool ClientAuth::login(std::string_view name, std::string_view password) {
  const auth::User* user = table_->authenticate(name, password);
  if (user == nullptr) return false;
  user_ = user;
  name_ = user->name;
  return true;
}

}  // namespace readthru::server
