// keyPositions(): where the keys of a concrete command are, as Redis 7.0 finds them for cluster
// routing and COMMAND GETKEYS (src/db.c: key specs and the *GetKeys functions). Error texts
// are the ones the Redis command itself answers for the same malformed arguments.

#include <charconv>
#include <limits>
#include <optional>
#include <string>

#include "command/command_table.hpp"
#include "command/key_rules.hpp"

namespace readthru::command {
namespace {

using Positions = std::vector<std::size_t>;
using detail::KeyRule;

constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
constexpr std::string_view kSyntax = "ERR syntax error";
constexpr std::string_view kTooManyKeys = "ERR Number of keys can't be greater than number of args";
constexpr std::string_view kNumkeysPositive = "ERR numkeys should be greater than 0";

Error error(std::string_view message) { return Error{std::string(message)}; }

bool equalsNoCase(std::string_view a, std::string_view lower_b) {
  if (a.size() != lower_b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char c = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] + 32) : a[i];
    if (c != lower_b[i]) {
      return false;
    }
  }
  return true;
}

// A 64-bit integer exactly as Redis's string2ll accepts it: optional '-', no '+', no spaces,
// no leading zeros.
std::optional<long long> parseInteger(std::string_view s) {
  const std::string_view digits = (!s.empty() && s[0] == '-') ? s.substr(1) : s;
  if (digits.empty() || (digits[0] == '0' && s.size() != 1)) {
    return std::nullopt;
  }
  long long value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return value;
}

// Appends `count` consecutive positions starting at `first`.
void appendRange(Positions& out, std::size_t first, long long count) {
  for (long long i = 0; i < count; ++i) {
    out.push_back(first + static_cast<std::size_t>(i));
  }
}

// ---------------------------------------------------------------------------------------------
// Legacy first/last/step (every command without movable keys).
// ---------------------------------------------------------------------------------------------

Result<Positions> legacyKeys(const CommandSpec& spec, std::size_t argc) {
  Positions out;
  if (spec.first_key <= 0 || argc == 0) {
    return out;
  }
  const long long n = static_cast<long long>(argc);
  const long long last = spec.last_key >= 0 ? spec.last_key : n + spec.last_key;
  const long long step = spec.step > 0 ? spec.step : 1;
  // Key/value pairs to the end (MSET): an incomplete last pair is Redis's arity error.
  if (spec.last_key < 0 && step > 1 && (n - spec.first_key) % step != 0) {
    return Error{"ERR wrong number of arguments for '" + std::string(spec.name) + "' command"};
  }
  for (long long i = spec.first_key; i <= last && i < n; i += step) {
    out.push_back(static_cast<std::size_t>(i));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// numkeys-style commands.
// ---------------------------------------------------------------------------------------------

// EVAL/FCALL family: numkeys at 2, keys at 3.. (scripting's evalGenericCommand, fcallCommand).
Result<Positions> scriptKeys(std::span<const std::string> argv, std::string_view not_integer) {
  const auto numkeys = argv.size() > 2 ? parseInteger(argv[2]) : std::nullopt;
  if (!numkeys) {
    return error(not_integer);
  }
  if (*numkeys > static_cast<long long>(argv.size()) - 3) {
    return error(kTooManyKeys);
  }
  if (*numkeys < 0) {
    return error("ERR Number of keys can't be negative");
  }
  Positions out;
  appendRange(out, 3, *numkeys);
  return out;
}

// ZUNIONSTORE/ZUNION family (t_zset.c): keys follow numkeys at `index`; destination first.
Result<Positions> zsetKeys(const CommandSpec& spec, std::span<const std::string> argv,
                           std::size_t index, bool with_destination) {
  const auto numkeys = argv.size() > index ? parseInteger(argv[index]) : std::nullopt;
  if (!numkeys) {
    return error(kNotInteger);
  }
  if (*numkeys < 1) {
    return Error{"ERR at least 1 input key is needed for '" + std::string(spec.name) + "' command"};
  }
  if (*numkeys > static_cast<long long>(argv.size() - index - 1)) {
    return error(kSyntax);
  }
  Positions out;
  if (with_destination) {
    out.push_back(1);
  }
  appendRange(out, index + 1, *numkeys);
  return out;
}

// SINTERCARD (t_set.c): numkeys at 1.
Result<Positions> sinterCardKeys(std::span<const std::string> argv) {
  const auto numkeys = argv.size() > 1 ? parseInteger(argv[1]) : std::nullopt;
  if (!numkeys || *numkeys < 1) {
    return error(kNumkeysPositive);
  }
  if (*numkeys > static_cast<long long>(argv.size()) - 2) {
    return error(kTooManyKeys);
  }
  Positions out;
  appendRange(out, 2, *numkeys);
  return out;
}

// LMPOP/ZMPOP (numkeys at 1) and BLMPOP/BZMPOP (at 2): the keys must leave room for the
// LEFT|RIGHT or MIN|MAX argument after them.
Result<Positions> mpopKeys(std::span<const std::string> argv, std::size_t index) {
  const auto numkeys = argv.size() > index ? parseInteger(argv[index]) : std::nullopt;
  if (!numkeys || *numkeys < 1) {
    return error(kNumkeysPositive);
  }
  if (*numkeys > static_cast<long long>(argv.size() - index) - 2) {
    return error(kSyntax);
  }
  Positions out;
  appendRange(out, index + 1, *numkeys);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Option-parsing commands.
// ---------------------------------------------------------------------------------------------

// XREAD/XREADGROUP (xreadGetKeys): skip the options up to STREAMS; then keys and IDs in halves.
// The GROUP checks are xreadCommand's, so a malformed request is answered before routing.
Result<Positions> xreadKeys(std::span<const std::string> argv, bool xreadgroup) {
  std::size_t streams = 0;
  bool group = false;
  for (std::size_t i = 1; i < argv.size(); ++i) {
    const std::string_view arg = argv[i];
    if (equalsNoCase(arg, "block") || equalsNoCase(arg, "count")) {
      ++i;
    } else if (equalsNoCase(arg, "group")) {
      if (!xreadgroup && i + 2 < argv.size()) {
        return error(
            "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
      }
      group = true;
      i += 2;
    } else if (equalsNoCase(arg, "noack")) {
      continue;
    } else if (equalsNoCase(arg, "streams")) {
      streams = i;
      break;
    } else {
      break;
    }
  }
  const std::size_t rest = streams == 0 ? 0 : argv.size() - streams - 1;
  if (rest == 0) {
    return error(kSyntax);
  }
  if (rest % 2 != 0) {
    return error(
        "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be "
        "specified.");
  }
  if (xreadgroup && !group) {
    return error("ERR Missing GROUP option for XREADGROUP");
  }
  Positions out;
  appendRange(out, streams + 1, static_cast<long long>(rest / 2));
  return out;
}

// SORT (sortGetKeys): key at 1, and the destination of the last STORE. LIMIT, GET and BY
// arguments are skipped so that a pattern spelled "store" is not taken for the option.
Positions sortKeys(std::span<const std::string> argv) {
  Positions out{1};
  std::size_t store = 0;
  for (std::size_t i = 2; i < argv.size(); ++i) {
    const std::string_view arg = argv[i];
    if (equalsNoCase(arg, "limit")) {
      i += 2;
    } else if (equalsNoCase(arg, "get") || equalsNoCase(arg, "by")) {
      i += 1;
    } else if (equalsNoCase(arg, "store") && i + 1 < argv.size()) {
      store = i + 1;
    }
  }
  if (store != 0) {
    out.push_back(store);
  }
  return out;
}

// MIGRATE (migrateGetKeys): the key at 3, or every argument after KEYS when argv[3] is "".
Result<Positions> migrateKeys(std::span<const std::string> argv) {
  for (std::size_t i = 6; i < argv.size(); ++i) {
    const std::string_view arg = argv[i];
    if (equalsNoCase(arg, "auth")) {
      i += 1;
    } else if (equalsNoCase(arg, "auth2")) {
      i += 2;
    } else if (equalsNoCase(arg, "keys")) {
      if (!argv[3].empty()) {
        return error(
            "ERR When using MIGRATE KEYS option, the key argument must be set to the empty "
            "string");
      }
      Positions out;
      appendRange(out, i + 1, static_cast<long long>(argv.size() - i - 1));
      return out;
    }
  }
  return Positions{3};
}

// GEORADIUS/GEORADIUSBYMEMBER key specs: the key at 1, then the argument after the first
// STORE and after the first STOREDIST found from `start` on (Redis routes on both).
Positions georadiusKeys(std::span<const std::string> argv, std::size_t start) {
  Positions out{1};
  for (const std::string_view keyword :
       {std::string_view("store"), std::string_view("storedist")}) {
    for (std::size_t i = start; i + 1 < argv.size(); ++i) {
      if (equalsNoCase(argv[i], keyword)) {
        out.push_back(i + 1);
        break;
      }
    }
  }
  return out;
}

Result<Positions> movableKeys(const CommandSpec& spec, KeyRule rule,
                              std::span<const std::string> argv) {
  switch (rule) {
    case KeyRule::kEval:
      return scriptKeys(argv, kNotInteger);
    case KeyRule::kFcall:
      return scriptKeys(argv, "ERR Bad number of keys provided");
    case KeyRule::kZStore:
      return zsetKeys(spec, argv, 2, true);
    case KeyRule::kZNumkeys:
      return zsetKeys(spec, argv, 1, false);
    case KeyRule::kSInterCard:
      return sinterCardKeys(argv);
    case KeyRule::kMpop:
      return mpopKeys(argv, 1);
    case KeyRule::kBlockMpop:
      return mpopKeys(argv, 2);
    case KeyRule::kXread:
      return xreadKeys(argv, spec.name == "xreadgroup");
    case KeyRule::kSort:
      return sortKeys(argv);
    case KeyRule::kSortRo:
      return Positions{1};
    case KeyRule::kMigrate:
      return migrateKeys(argv);
    case KeyRule::kGeoradius:
      return georadiusKeys(argv, spec.name == "georadius" ? 6 : 5);
  }
  return legacyKeys(spec, argv.size());
}

}  // namespace

Result<std::vector<std::size_t>> keyPositions(const CommandSpec& spec,
                                              std::span<const std::string> argv) {
  if (!arityOk(spec, argv.size())) {
    return Error{"ERR wrong number of arguments for '" + std::string(spec.name) + "' command"};
  }
  if (spec.has(kMovableKeys)) {
    if (const auto* rule = detail::findKeyRule(spec.name)) {
      return movableKeys(spec, rule->rule, argv);
    }
  }
  return legacyKeys(spec, argv.size());
}

}  // namespace readthru::command
