#pragma once
// The command table: every Redis 7.0 command and subcommand with its arity, flags and key
// positions (generated from a real server into redis_commands.inc), plus how readthru routes
// it. Routing, splitting and the emulated COMMAND read this table instead of special-casing
// names. Pure: no I/O, no allocation on lookup; the table is built at compile time.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace readthru::command {

// One bit per flag Redis reports in COMMAND (src/server.h CMD_*), same names.
enum Flag : std::uint32_t {
  kWrite = 1u << 0,
  kReadonly = 1u << 1,
  kDenyOom = 1u << 2,
  kModule = 1u << 3,
  kAdmin = 1u << 4,
  kPubsub = 1u << 5,
  kNoScript = 1u << 6,
  kBlocking = 1u << 7,
  kLoading = 1u << 8,
  kStale = 1u << 9,
  kSkipMonitor = 1u << 10,
  kSkipSlowlog = 1u << 11,
  kAsking = 1u << 12,
  kFast = 1u << 13,
  kNoAuth = 1u << 14,
  kMayReplicate = 1u << 15,
  kSentinel = 1u << 16,
  kOnlySentinel = 1u << 17,
  kNoMandatoryKeys = 1u << 18,
  kProtected = 1u << 19,
  kNoAsyncLoading = 1u << 20,
  kNoMulti = 1u << 21,
  kMovableKeys = 1u << 22,  // key positions depend on the arguments: see keyPositions()
  kAllowBusy = 1u << 23,
};

// The name Redis uses for a single flag bit in COMMAND output ("readonly", "movablekeys"...);
// empty for a value that is not exactly one known bit.
std::string_view flagName(Flag flag);

// One bit per Redis 7.0 ACL category (COMMAND's 7th element, `ACL CAT`), plus readthru's
// own: every READTHRU.* command is in @readthru. Used by auth::Permissions for `+@read`.
enum Category : std::uint32_t {
  kCatKeyspace = 1u << 0,
  kCatRead = 1u << 1,
  kCatWrite = 1u << 2,
  kCatSet = 1u << 3,
  kCatSortedSet = 1u << 4,
  kCatList = 1u << 5,
  kCatHash = 1u << 6,
  kCatString = 1u << 7,
  kCatBitmap = 1u << 8,
  kCatHyperLogLog = 1u << 9,
  kCatGeo = 1u << 10,
  kCatStream = 1u << 11,
  kCatPubsub = 1u << 12,
  kCatAdmin = 1u << 13,
  kCatFast = 1u << 14,
  kCatSlow = 1u << 15,
  kCatBlocking = 1u << 16,
  kCatDangerous = 1u << 17,
  kCatConnection = 1u << 18,
  kCatTransaction = 1u << 19,
  kCatScripting = 1u << 20,
  kCatReadthru = 1u << 21,
};

// "read" for kCatRead (without the '@'); empty for a value that is not exactly one bit.
std::string_view categoryName(Category category);
// The bit for a name without '@' ("read", case-insensitive, as Redis's ACL); 0 if unknown.
std::uint32_t categoryByName(std::string_view name);

// How readthru handles a command. A readthru decision, not Redis metadata: see the override
// table in command_table.cpp for the reason behind each non-default choice.
enum class Route : std::uint8_t {
  kLocal,        // answered by readthru itself (PING, HELLO, COMMAND, CLUSTER SLOTS, ...)
  kKeyed,        // sent to the node owning the slot of its keys (Redis answers CROSSSLOT)
  kSplit,        // multi-key: split per slot, sent to each owner, replies merged (MGET, DEL...)
  kFanOut,       // keyless, sent to every master, replies merged (FLUSHALL, DBSIZE, SCAN...)
  kAnyNode,      // keyless and harmless on any single node (TIME, CONFIG GET, ...)
  kUnsupported,  // cannot be proxied (yet): answered with an error
};

std::string_view routeName(Route route);

struct CommandSpec {
  std::string_view name;  // lower case; subcommands "container|sub"
  int arity;              // Redis convention: N exact, -N at least N (argv[0] included)
  std::uint32_t flags;    // Flag bits
  int first_key;          // Redis legacy key spec; 0 = no keys
  int last_key;           // -1 = last argument, -2 = one before last
  int step;
  std::uint32_t categories;  // Category bits
  std::string_view group, summary, since;
  Route route;  // readthru's decision (override table, else keys ? kKeyed : kAnyNode)
  std::string_view route_note;  // why, one line; for kUnsupported the reason to show the client

  constexpr bool has(Flag f) const { return (flags & f) != 0; }
  constexpr bool in(Category c) const { return (categories & c) != 0; }
};

// The command for a request's argv: argv[0] matched case-insensitively; for a container
// (config, client, cluster, object, ...) also argv[1] when present and a known subcommand,
// else the container entry itself (so "CONFIG BOGUS" yields "config"). nullptr when argv is
// empty or argv[0] is unknown. Never allocates.
const CommandSpec* lookup(std::span<const std::string> argv);

// Exact name, case-insensitive: "get", "CONFIG|SET". nullptr when unknown.
const CommandSpec* lookupName(std::string_view name);

// Every command and subcommand, sorted by name (a container precedes its subcommands).
std::span<const CommandSpec> allCommands();

// Arity check as Redis does it: arity > 0 exact, arity < 0 at least -arity arguments.
bool arityOk(const CommandSpec& spec, std::size_t argc);

// Indices into argv of the keys of this concrete command, in the order Redis's COMMAND GETKEYS
// lists them. Uses first/last/step, and for movable-keys commands parses argv as Redis does
// (numkeys of EVAL/FCALL/ZUNIONSTORE/LMPOP/..., STREAMS of XREAD, STORE of SORT and GEORADIUS,
// KEYS of MIGRATE). A wrong arity or a malformed numkeys is an Error whose message is the whole
// error line Redis would answer, e.g. "ERR Number of keys can't be greater than number of
// args" or "ERR wrong number of arguments for 'mset' command" (ready for resp::appendError).
Result<std::vector<std::size_t>> keyPositions(const CommandSpec& spec,
                                              std::span<const std::string> argv);

}  // namespace readthru::command
