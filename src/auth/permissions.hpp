#pragma once
// What one user may run, compiled from Redis-style ACL rules. Pure: rules in, a permission
// set out; check() answers per request without allocating when it allows.
//
// Command rules apply in order, as ACL SETUSER applies them: `+@cat` / `-@cat` (a Redis 7.0
// category or readthru's own @readthru), `+cmd` / `-cmd` (with every subcommand),
// `+cmd|sub` / `-cmd|sub`, `allcommands` (= `+@all`), `nocommands` (= `-@all`). Key
// patterns are Redis's `~pattern` globs without the `~`; "*" is every key, and no pattern
// at all is no key (Redis's default for a new user).
//
// A user that is not an admin never runs an admin-only command (adminOnly()), whatever its
// rules say: those reach every master or change readthru itself.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "command/command_table.hpp"
#include "common/result.hpp"

namespace readthru::auth {

// FLUSHALL, CONFIG SET, SCRIPT FLUSH, READTHRU.INVALIDATE PATTERN, READTHRU.RELOAD...:
// commands Redis flags `admin`, and the fan-outs that wipe every master. Not INFO or KEYS
// (in Redis's @dangerous, but reads): a user's rules decide those.
bool adminOnly(const command::CommandSpec& spec);

class Permissions {
 public:
  // Everything (the default user without auth, or `+@all` with `*`).
  static Permissions all();

  // Errors name the rule: "unknown command 'gett' in rule '+gett'". `commands` and `keys`
  // are as written in the config.
  static Result<Permissions> compile(std::span<const std::string> commands,
                                     std::span<const std::string> keys, bool admin);

  // Whether the request may run: nullopt, or the whole error line Redis 7.0 answers
  // ("NOPERM this user has no permissions to run the 'config|set' command", or "... to
  // access one of the keys used as arguments"), ready for resp::appendError.
  std::optional<std::string> check(const command::CommandSpec& spec,
                                   std::span<const std::string> argv) const;

  bool allows(const command::CommandSpec& spec) const;
  bool allowsKey(std::string_view key) const;

 private:
  std::vector<bool> commands_;  // by index in command::allCommands()
  bool all_keys_ = false;
  std::vector<std::string> key_patterns_;
};

}  // namespace readthru::auth
