#pragma once
// Internal to the command module: which argv parser finds the keys of each movable-keys
// command (Redis's getkeys_proc functions in src/db.c). Shared by command_table.cpp, which
// checks at compile time that every command flagged movablekeys has a rule here, and
// key_positions.cpp, which runs the rule.

#include <cstdint>
#include <string_view>

namespace readthru::command::detail {

enum class KeyRule : std::uint8_t {
  kEval,        // numkeys at 2, keys follow; EVAL wording for a bad numkeys
  kFcall,       // same positions, FCALL wording
  kZStore,      // destination at 1, numkeys at 2, keys follow (zunionstore, ...)
  kZNumkeys,    // numkeys at 1, keys follow (zunion, zinter, zdiff, zintercard)
  kSInterCard,  // numkeys at 1, keys follow, SINTERCARD wording
  kMpop,        // numkeys at 1, keys follow, then LEFT|RIGHT / MIN|MAX (lmpop, zmpop)
  kBlockMpop,   // timeout at 1, numkeys at 2 (blmpop, bzmpop)
  kXread,       // keys after STREAMS: the first half of the remaining arguments
  kSort,        // key at 1, plus the last STORE destination
  kSortRo,      // key at 1 only
  kMigrate,     // key at 3, or the keys after KEYS when argv[3] is empty
  kGeoradius,   // key at 1, plus every STORE / STOREDIST destination
};

struct NamedKeyRule {
  std::string_view name;
  KeyRule rule;
};

inline constexpr NamedKeyRule kKeyRules[] = {
    {"blmpop", KeyRule::kBlockMpop},
    {"bzmpop", KeyRule::kBlockMpop},
    {"eval", KeyRule::kEval},
    {"eval_ro", KeyRule::kEval},
    {"evalsha", KeyRule::kEval},
    {"evalsha_ro", KeyRule::kEval},
    {"fcall", KeyRule::kFcall},
    {"fcall_ro", KeyRule::kFcall},
    {"georadius", KeyRule::kGeoradius},
    {"georadiusbymember", KeyRule::kGeoradius},
    {"lmpop", KeyRule::kMpop},
    {"migrate", KeyRule::kMigrate},
    {"sintercard", KeyRule::kSInterCard},
    {"sort", KeyRule::kSort},
    {"sort_ro", KeyRule::kSortRo},
    {"xread", KeyRule::kXread},
    {"xreadgroup", KeyRule::kXread},
    {"zdiff", KeyRule::kZNumkeys},
    {"zdiffstore", KeyRule::kZStore},
    {"zinter", KeyRule::kZNumkeys},
    {"zintercard", KeyRule::kZNumkeys},
    {"zinterstore", KeyRule::kZStore},
    {"zmpop", KeyRule::kMpop},
    {"zunion", KeyRule::kZNumkeys},
    {"zunionstore", KeyRule::kZStore},
};

// The rule for a movable-keys command name (exact, lower case); nullptr when it has none.
constexpr const NamedKeyRule* findKeyRule(std::string_view name) {
  for (const auto& r : kKeyRules) {
    if (r.name == name) {
      return &r;
    }
  }
  return nullptr;
}

// Whether `name` has a rule (a separate function: GCC 12 cannot compare the pointer above with
// nullptr in a constant expression).
constexpr bool hasKeyRule(std::string_view name) {
  for (const auto& r : kKeyRules) {
    if (r.name == name) {
      return true;
    }
  }
  return false;
}

}  // namespace readthru::command::detail
