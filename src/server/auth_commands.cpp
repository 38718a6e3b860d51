// Dispatcher: AUTH and ACL WHOAMI, answered against readthru's own users (auth: in the
// config) with Redis 7.0's replies and texts.

#include "resp/writer.hpp"
#include "server/dispatcher.hpp"
#include "server/session.hpp"

namespace readthru::server {
namespace {

constexpr const char* kWrongPass = "WRONGPASS invalid username-password pair or user is disabled.";

}  // namespace

void Dispatcher::auth(Session& session, const std::vector<std::string>& args) {
  std::string& out = session.replyNow();
  if (args.size() > 3) {
    appendError(out, "ERR syntax error");
    return;
  }
  std::string_view user = auth::kDefaultUser;
  std::string_view password = args[1];
  if (args.size() == 2) {
    // Redis keeps the old requirepass behaviour: AUTH <password> without one set is an error.
    if (session.auth().defaultNoPass()) {
      appendError(out,
                  "ERR AUTH <password> called without any password configured for the "
                  "default user. Are you sure your configuration is correct?");
      return;
    }
  } else {
    user = args[1];
    password = args[2];
  }
  if (!session.login(user, password)) {
    appendError(out, kWrongPass);
    return;
  }
  resp::appendSimple(out, "OK");
}

bool Dispatcher::helloLogin(Session& session, std::string& out, std::string_view user,
                            std::string_view password) {
  if (session.login(user, password)) return true;
  appendError(out, kWrongPass);
  return false;
}

// Only ACL WHOAMI is local (the table routes the other subcommands as unsupported).
void Dispatcher::acl(Session& session, const std::vector<std::string>& /*args*/) {
  resp::appendBulk(session.replyNow(), session.auth().userName());
}

}  // namespace readthru::server
