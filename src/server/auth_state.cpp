#include "server/auth_state.hpp"

namespace readthru::server {

AuthState::AuthState() : table_(*auth::UserTable::build(config::AuthConfig{})) {}

std::optional<std::string> AuthState::configure(const config::AuthConfig& cfg) {
  auto built = auth::UserTable::build(cfg);
  if (!built) return built.error().message;
  {
    std::lock_guard lock(mu_);
    table_ = std::move(*built);
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return std::nullopt;
}

std::shared_ptr<const auth::UserTable> AuthState::current() const {
  std::lock_guard lock(mu_);
  return table_;
}

}  // namespace readthru::server
