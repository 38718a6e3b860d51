#include "auth/permissions.hpp"

#include <array>
#include <string_view>

#include "auth/glob.hpp"
#include "common/text.hpp"

namespace readthru::auth {
namespace {

using command::CommandSpec;

// Fan-outs that are neither admin nor @dangerous in Redis, but through readthru wipe a
// cache-wide state on every master at once.
// The fan-outs that wipe or rewrite every master (or every cached key of a glob). Commands
// Redis flags `admin` (CONFIG SET, CONFIG GET, DEBUG...) are admin-only as well; the rest of
// @dangerous (INFO, KEYS, CLIENT LIST...) is left to the user's own rules, as in Redis.
constexpr std::array<std::string_view, 7> kAdminOnlyFanOuts{"flushall",
                                                            "flushdb",
                                                            "script|flush",
                                                            "function|flush",
                                                            "function|delete",
                                                            "function|restore",
                                                            "readthru.invalidate|pattern"};

std::size_t indexOf(const CommandSpec& spec) {
  return static_cast<std::size_t>(&spec - command::allCommands().data());
}

bool isSubcommandOf(const CommandSpec& spec, std::string_view container) {
  return spec.name.size() > container.size() && spec.name.starts_with(container) &&
         spec.name[container.size()] == '|';
}

// Sets (or clears) what one rule names. An Error says why the rule means nothing.
Result<bool> apply(std::vector<bool>& allowed, const std::string& rule) {
  const auto commands = command::allCommands();
  auto setWhere = [&](bool value, auto&& pred) {
    for (const CommandSpec& spec : commands) {
      if (pred(spec)) allowed[indexOf(spec)] = value;
    }
  };
  const auto every = [](const CommandSpec&) { return true; };
  if (equalsIgnoreCase(rule, "allcommands")) {
    setWhere(true, every);
    return true;
  }
  if (equalsIgnoreCase(rule, "nocommands")) {
    setWhere(false, every);
    return true;
  }
  if (rule.size() < 2 || (rule[0] != '+' && rule[0] != '-')) {
    return Error{"rule '" + rule + "' must start with + or - (or be allcommands, nocommands)"};
  }
  const bool value = rule[0] == '+';
  const std::string_view what = std::string_view(rule).substr(1);
  if (what[0] == '@') {
    const std::string_view cat = what.substr(1);
    if (equalsIgnoreCase(cat, "all")) {
      setWhere(value, every);
      return true;
    }
    const std::uint32_t bit = command::categoryByName(cat);
    if (bit == 0)
      return Error{"unknown category '" + std::string(cat) + "' in rule '" + rule + "'"};
    setWhere(value, [bit](const CommandSpec& spec) { return (spec.categories & bit) != 0; });
    return true;
  }
  const CommandSpec* spec = command::lookupName(what);
  if (spec == nullptr)
    return Error{"unknown command '" + std::string(what) + "' in rule '" + rule + "'"};
  allowed[indexOf(*spec)] = value;
  // A command rule covers its subcommands, as in Redis ("+config" allows CONFIG GET).
  setWhere(value, [name = spec->name](const CommandSpec& s) { return isSubcommandOf(s, name); });
  return true;
}

}  // namespace

bool adminOnly(const CommandSpec& spec) {
  if (spec.has(command::kAdmin)) return true;
  for (std::string_view name : kAdminOnlyFanOuts) {
    if (spec.name == name) return true;
  }
  return false;
}

Permissions Permissions::all() {
  Permissions p;
  p.commands_.assign(command::allCommands().size(), true);
  p.all_keys_ = true;
  return p;
}

Result<Permissions> Permissions::compile(std::span<const std::string> commands,
                                         std::span<const std::string> keys, bool admin) {
  Permissions p;
  p.commands_.assign(command::allCommands().size(), false);
  for (const std::string& rule : commands) {
    auto applied = apply(p.commands_, rule);
    if (!applied) return applied.error();
  }
  if (!admin) {
    for (const CommandSpec& spec : command::allCommands()) {
      if (adminOnly(spec)) p.commands_[indexOf(spec)] = false;
    }
  }
  for (const std::string& pattern : keys) {
    if (pattern.empty()) return Error{"a key pattern cannot be empty"};
    if (pattern == "*") p.all_keys_ = true;
    p.key_patterns_.push_back(pattern);
  }
  return p;
}

bool Permissions::allows(const CommandSpec& spec) const { return commands_[indexOf(spec)]; }

bool Permissions::allowsKey(std::string_view key) const {
  if (all_keys_) return true;
  for (const std::string& pattern : key_patterns_) {
    if (globMatch(pattern, key)) return true;
  }
  return false;
}

std::optional<std::string> Permissions::check(const CommandSpec& spec,
                                              std::span<const std::string> argv) const {
  if (!allows(spec)) {
    return "NOPERM this user has no permissions to run the '" + std::string(spec.name) +
           "' command";
  }
  if (all_keys_ || (spec.first_key == 0 && !spec.has(command::kMovableKeys))) return std::nullopt;
  // A malformed request (numkeys out of range) names no keys: the command's own error
  // follows, as in Redis, whose ACL check finds no keys in it either.
  const auto positions = command::keyPositions(spec, argv);
  if (!positions) return std::nullopt;
  for (std::size_t i : *positions) {
    if (!allowsKey(argv[i])) {
      return std::string(
          "NOPERM this user has no permissions to access one of the keys used as "
          "arguments");
    }
  }
  return std::nullopt;
}

}  // namespace readthru::auth
