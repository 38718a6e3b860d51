// Dispatcher: readthru's own commands (READTHRU.*), answered by the read-through service.

#include "resp/writer.hpp"
#include "server/context.hpp"
#include "server/dispatcher.hpp"
#include "server/session.hpp"

namespace readthru::server {

void Dispatcher::readthruCommand(Session& session, const command::CommandSpec& spec,
                                 std::vector<std::string>& args) {
  if (spec.name == "readthru.invalidate|key") {
    if (read_through_ == nullptr) {
      stats_.add(stats_.error_replies);
      resp::appendError(session.replyNow(), "ERR readthru: no keyspaces are configured");
      return;
    }
    std::vector<std::string> keys(std::make_move_iterator(args.begin() + 2),
                                  std::make_move_iterator(args.end()));
    read_through_->invalidateKeys(std::move(keys), session.info().id, session.replyLater());
    return;
  }
  // The container itself, with a subcommand it does not have.
  stats_.add(stats_.error_replies);
  resp::appendError(session.replyNow(),
                    "ERR unknown subcommand '" + args[1] + "'. READTHRU.INVALIDATE takes KEY.");
}

}  // namespace readthru::server
