#pragma once
// The user table every session authenticates against, shared by the io threads. A reload
// installs a new table (on io thread 0); each session notices the new generation at its
// next command and moves to the new table (ClientAuth::refresh). The mutex is taken only
// then and when a connection opens, never per command: the generation is one atomic load.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "auth/users.hpp"
#include "config/config.hpp"

namespace readthru::server {

class AuthState {
 public:
  // Starts without auth (every connection is the default user), until configure().
  AuthState();

  // Builds the table from the config and installs it; the error (a rule that does not
  // compile, with its file:line) leaves the old table in place.
  std::optional<std::string> configure(const config::AuthConfig& cfg);

  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  std::shared_ptr<const auth::UserTable> current() const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const auth::UserTable> table_;
  std::atomic<std::uint64_t> generation_{0};
};

}  // namespace readthru::server
