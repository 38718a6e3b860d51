#include "server/slow_ring.hpp"

#include <algorithm>
#include <cctype>

namespace readthru::server {

namespace {

constexpr std::string_view kRedacted = "(redacted)";

// Which arguments of a command are secrets.
enum class Secret : std::uint8_t {
  kAllFrom,       // every argument from `from` on
  kAfterToken,    // the `count` arguments after `token` (case-insensitive), from `from` on
  kConfigValues,  // the value after each sensitive parameter name, from `from` on
};
struct SecretRule {
  std::string_view command;
  Secret kind;
  std::size_t from;
  std::string_view token = {};
  std::size_t count = 0;
};
constexpr SecretRule kSecretRules[] = {
    {"auth", Secret::kAllFrom, 1},
    {"hello", Secret::kAfterToken, 2, "auth", 2},
    {"migrate", Secret::kAfterToken, 6, "auth", 1},
    {"migrate", Secret::kAfterToken, 6, "auth2", 2},
    {"acl|setuser", Secret::kAllFrom, 3},
    {"config|set", Secret::kConfigValues, 2},
};
// Redis 7.0's SENSITIVE_CONFIG parameters.
constexpr std::string_view kSensitiveConfig[] = {"requirepass", "masterauth"};

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

void apply(const SecretRule& rule, std::vector<std::string>& argv) {
  for (std::size_t i = rule.from; i < argv.size(); ++i) {
    switch (rule.kind) {
      case Secret::kAllFrom:
        argv[i] = kRedacted;
        break;
      case Secret::kAfterToken:
        if (!equalsIgnoringCase(argv[i], rule.token)) break;
        for (std::size_t k = 1; k <= rule.count && i + k < argv.size(); ++k) {
          argv[i + k] = kRedacted;
        }
        i += rule.count;
        break;
      case Secret::kConfigValues:
        for (std::string_view name : kSensitiveConfig) {
          if (equalsIgnoringCase(argv[i], name) && i + 1 < argv.size()) argv[i + 1] = kRedacted;
        }
        ++i;  // parameter, value
        break;
    }
  }
}

}  // namespace

void redactSecrets(std::string_view command, std::vector<std::string>& argv) {
  for (const SecretRule& rule : kSecretRules) {
    if (rule.command == command) apply(rule, argv);
  }
}

std::vector<std::string> slowLogArgv(std::span<const std::string> args) {
  const std::size_t kept = std::min(args.size(), kSlowMaxArgs);
  std::vector<std::string> out;
  out.reserve(kept);
  for (std::size_t i = 0; i < kept; ++i) {
    if (kept != args.size() && i == kept - 1) {
      out.push_back("... (" + std::to_string(args.size() - kept + 1) + " more arguments)");
    } else if (args[i].size() > kSlowMaxArgBytes) {
      out.push_back(args[i].substr(0, kSlowMaxArgBytes) + "... (" +
                    std::to_string(args[i].size() - kSlowMaxArgBytes) + " more bytes)");
    } else {
      out.push_back(args[i]);
    }
  }
  return out;
}

void SlowRing::push(SlowEntry entry) {
  if (max_len_ == 0) return;
  entries_.push_front(std::move(entry));
  if (entries_.size() > max_len_) entries_.pop_back();
}

void SlowRing::setMaxLen(std::size_t max_len) {
  max_len_ = max_len;
  while (entries_.size() > max_len_) entries_.pop_back();
}

std::vector<SlowEntry> newestOf(std::span<const SlowRing* const> rings, std::size_t count) {
  std::vector<SlowEntry> all;
  for (const SlowRing* ring : rings) {
    all.insert(all.end(), ring->entries().begin(), ring->entries().end());
  }
  // Ids are handed out process-wide in the order entries were made.
  std::sort(all.begin(), all.end(),
            [](const SlowEntry& a, const SlowEntry& b) { return a.id > b.id; });
  if (all.size() > count) all.resize(count);
  return all;
}

}  // namespace readthru::server
