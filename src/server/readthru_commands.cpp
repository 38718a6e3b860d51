// Dispatcher: readthru's own commands (READTHRU.*), answered by the read-through service.

#include "resp/writer.hpp"
#include "server/context.hpp"
#include "server/dispatcher.hpp"
#include "server/session.hpp"

namespace readthru::server {

void Dispatcher::readthruCommand(Session& session, const command::CommandSpec& spec,
                                 std::vector<std::string>& args) {
  if (spec.name == "readthru.reload") {  // needs no keyspaces
    reload(session);
    return;
  }
  if (read_through_ == nullptr) {
    stats_.add(stats_.error_replies);
    resp::appendError(session.replyNow(), "ERR readthru: no keyspaces are configured");
    return;
  }
  const auto source = cache::InvalidationSource::kCommand;
  auto rest = [&args] {
    return std::vector<std::string>(std::make_move_iterator(args.begin() + 2),
                                    std::make_move_iterator(args.end()));
  };
  if (spec.name == "readthru.invalidate|key") {
    read_through_->invalidateKeys(rest(), session.info().id, session.replyLater());
  } else if (spec.name == "readthru.invalidate|tag") {
    for (std::size_t i = 2; i < args.size(); ++i) {
      if (args[i].empty()) {
        stats_.add(stats_.error_replies);
        resp::appendError(session.replyNow(), "ERR readthru: a tag cannot be empty");
        return;
      }
    }
    read_through_->invalidateTags(rest(), source, session.replyLater());
  } else if (spec.name == "readthru.invalidate|keyspace") {
    read_through_->invalidateKeyspace(args[2], source, session.replyLater());
  } else if (spec.name == "readthru.invalidate|pattern") {
    read_through_->invalidatePattern(std::move(args[2]), source, session.replyLater());
  } else if (spec.name == "readthru.refresh") {
    read_through_->refresh(std::move(args[1]), session.info().id, session.replyLater());
  } else {
    // The container itself, with a subcommand it does not have.
    stats_.add(stats_.error_replies);
    resp::appendError(session.replyNow(),
                      "ERR unknown subcommand '" + args[1] +
                          "'. READTHRU.INVALIDATE takes KEY, TAG, KEYSPACE or PATTERN.");
  }
}

// The reply waits for the reload to be applied on every io thread (or rejected). The
// session may be gone by then: replyLater()'s callback is safe to call after it closed.
void Dispatcher::reload(Session& session) {
  if (!ctx_.reload) {
    stats_.add(stats_.error_replies);
    resp::appendError(session.replyNow(), "ERR readthru: reload is not available");
    return;
  }
  ctx_.reload(io_, [reply = session.replyLater()](const std::string& error) {
    reply(error.empty() ? resp::Value::simple("OK")
                        : resp::Value::error("ERR readthru: reload rejected: " + error));
  });
}

}  // namespace readthru::server
