// Dispatcher: readthru's own commands (READTHRU.*), answered by the read-through service.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "metrics/render.hpp"
#include "resp/writer.hpp"
#include "server/context.hpp"
#include "server/dispatcher.hpp"
#include "server/session.hpp"

namespace readthru::server {
namespace {

enum class Action : std::uint8_t {
  kReload,
  kInvalidateKey,
  kInvalidateTag,
  kInvalidateKeyspace,
  kInvalidatePattern,
  kRefresh,
  kStats,
  kDoctor,
  kWarm,
};

// The command table's names (command/redis_commands.inc) of readthru's own commands.
constexpr std::array<std::pair<std::string_view, Action>, 9> kActions{{
    {"readthru.reload", Action::kReload},
    {"readthru.invalidate|key", Action::kInvalidateKey},
    {"readthru.invalidate|tag", Action::kInvalidateTag},
    {"readthru.invalidate|keyspace", Action::kInvalidateKeyspace},
    {"readthru.invalidate|pattern", Action::kInvalidatePattern},
    {"readthru.refresh", Action::kRefresh},
    {"readthru.stats", Action::kStats},
    {"readthru.doctor", Action::kDoctor},
    {"readthru.warm", Action::kWarm},
}};

std::optional<Action> actionOf(std::string_view name) {
  for (const auto& [n, action] : kActions) {
    if (n == name) return action;
  }
  return std::nullopt;
}

}  // namespace

void Dispatcher::readthruCommand(Session& session, const command::CommandSpec& spec,
                                 std::vector<std::string>& args) {
  const std::optional<Action> action = actionOf(spec.name);
  if (!action) {
    // The container itself, with a subcommand it does not have.
    appendError(session.replyNow(),
                "ERR unknown subcommand '" + args[1] +
                    "'. READTHRU.INVALIDATE takes KEY, TAG, KEYSPACE or PATTERN.");
    return;
  }
  if (*action == Action::kReload) {  // needs no keyspaces
    reload(session);
    return;
  }
  if (*action == Action::kDoctor || *action == Action::kWarm) {
    threadZeroCommand(session, *action == Action::kDoctor, args);
    return;
  }
  if (read_through_ == nullptr) {
    appendError(session.replyNow(), "ERR readthru: no keyspaces are configured");
    return;
  }
  const auto source = cache::InvalidationSource::kCommand;
  auto rest = [&args] {
    return std::vector<std::string>(std::make_move_iterator(args.begin() + 2),
                                    std::make_move_iterator(args.end()));
  };
  switch (*action) {
    case Action::kReload:
    case Action::kDoctor:
    case Action::kWarm:
      return;  // answered above
    case Action::kInvalidateKey:
      read_through_->invalidateKeys(rest(), session.info().id, localReplyLater(session));
      return;
    case Action::kInvalidateTag:
      for (std::size_t i = 2; i < args.size(); ++i) {
        if (args[i].empty()) {
          appendError(session.replyNow(), "ERR readthru: a tag cannot be empty");
          return;
        }
      }
      read_through_->invalidateTags(rest(), source, localReplyLater(session));
      return;
    case Action::kInvalidateKeyspace:
      read_through_->invalidateKeyspace(args[2], source, localReplyLater(session));
      return;
    case Action::kInvalidatePattern:
      read_through_->invalidatePattern(std::move(args[2]), source, localReplyLater(session));
      return;
    case Action::kRefresh:
      read_through_->refresh(std::move(args[1]), session.info().id, localReplyLater(session));
      return;
    case Action::kStats:
      stats(session, args);
      return;
  }
}

// READTHRU.STATS [keyspace ...]: INFO-style lines per keyspace, from the same metrics
// /metrics shows with a keyspace label.
void Dispatcher::stats(Session& session, const std::vector<std::string>& args) {
  std::vector<std::string> names(args.begin() + 1, args.end());
  for (const std::string& name : names) {
    if (!read_through_->hasKeyspace(name)) {
      appendError(session.replyNow(), "ERR readthru: no keyspace '" + name + "'");
      return;
    }
  }
  const metrics::Snapshot snap = ctx_.metrics.snapshot();
  if (names.empty()) names = read_through_->keyspaceNames();
  std::string text;
  for (const std::string& name : names) {
    if (!text.empty()) text += "\r\n";
    text += "# keyspace " + name + "\r\n";
    text += metrics::renderInfoFor(snap, {"keyspace", name});
  }
  resp::appendBulk(session.replyNow(), text);
}

// The reply waits for the reload to be applied on every io thread (or rejected). The
// session may be gone by then: replyLater()'s callback is safe to call after it closed.
void Dispatcher::reload(Session& session) {
  if (!ctx_.reload) {
    appendError(session.replyNow(), "ERR readthru: reload is not available");
    return;
  }
  ctx_.reload(io_, [reply = localReplyLater(session)](const std::string& error) {
    reply(error.empty() ? resp::Value::simple("OK")
                        : resp::Value::error("ERR readthru: reload rejected: " + error));
  });
}

// READTHRU.DOCTOR and READTHRU.WARM run on io thread 0 (the doctor and the warmer live
// there); the answer comes back to this connection's thread, which may have closed it.
void Dispatcher::threadZeroCommand(Session& session, bool doctor, std::vector<std::string>& args) {
  const CommandHook& hook = doctor ? ctx_.doctor : ctx_.warm;
  if (!hook) {
    appendError(session.replyNow(), "ERR readthru: no keyspaces are configured");
    return;
  }
  hook(io_, std::move(args), localReplyLater(session));
}

}  // namespace readthru::server
