// Dispatcher: commands readthru answers itself, the way Redis 7 answers them.

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include "common/text.hpp"
#include "resp/writer.hpp"
#include "server/context.hpp"
#include "server/dispatcher.hpp"
#include "server/session.hpp"

namespace readthru::server {

// A 64-bit integer as Redis's string2ll reads it: an optional '-', no '+', no spaces, no
// leading zeros, no "-0", at most 20 characters.
std::optional<long long> parseRedisInteger(std::string_view s) {
  if (s.empty() || s.size() > 20 || s == "-0") return std::nullopt;
  const std::string_view digits = s[0] == '-' ? s.substr(1) : s;
  if (digits.empty() || (digits[0] == '0' && digits.size() > 1)) return std::nullopt;
  long long value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return value;
}

namespace {

// Redis refuses names with spaces, newlines or other non-printable characters.
bool validClientName(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char c) { return c >= '!' && c <= '~'; });
}

}  // namespace

void Dispatcher::local(Session& session, const command::CommandSpec& spec,
                       std::vector<std::string>& args) {
  std::string& out = session.replyNow();
  const std::string name = toLower(args[0]);
  if (name == "ping") {
    if (args.size() > 2) {
      appendError(out, wrongArityError("ping"));
    } else if (args.size() == 2) {
      resp::appendBulk(out, args[1]);
    } else {
      resp::appendSimple(out, "PONG");
    }
  } else if (name == "echo") {
    resp::appendBulk(out, args[1]);
  } else if (name == "quit") {
    resp::appendSimple(out, "OK");
    session.closeAfterReplies();
  } else if (name == "select") {
    // Redis Cluster has only database 0, and readthru presents itself as a cluster.
    if (args[1] == "0") {
      resp::appendSimple(out, "OK");
    } else if (args[1].empty() || !std::all_of(args[1].begin(), args[1].end(), ::isdigit)) {
      appendError(out, "ERR value is not an integer or out of range");
    } else {
      appendError(out, "ERR SELECT is not allowed in cluster mode");
    }
  } else if (name == "readonly" || name == "readwrite" || name == "asking") {
    // Sent by cluster clients; readthru picks replicas itself (backend.read_from_replicas).
    resp::appendSimple(out, "OK");
  } else if (name == "reset") {
    session.info().name.clear();
    session.resetAuth();
    resp::appendSimple(out, "RESET");
  } else if (name == "auth") {
    auth(session, args);
  } else if (name == "acl") {
    acl(session, args);
  } else if (name == "hello") {
    hello(session, args);
  } else if (name == "client") {
    client(session, args);
  } else if (name == "command") {
    commandCommand(out, args);
  } else if (name == "cluster") {
    cluster(out, args);
  } else if (name == "slowlog") {
    slowlog(out, args);
  } else {
    appendError(out, "ERR readthru: '" + std::string(spec.name) + "' is not supported");
  }
}

void Dispatcher::hello(Session& session, std::vector<std::string>& args) {
  std::string& out = session.replyNow();
  if (args.size() >= 2) {
    // As Redis (hello): any integer parses ("-1" and "4" are NOPROTO), "02" or "+2" do not.
    const auto ver = parseRedisInteger(args[1]);
    if (!ver) {
      appendError(out, "ERR Protocol version is not an integer or out of range");
      return;
    }
    // RESP3 is not served: 3 is refused like any version Redis does not know.
    if (*ver != 2) {
      appendError(out, "NOPROTO unsupported protocol version");
      return;
    }
  }
  std::string new_name;
  bool set_name = false;
  const std::string* user = nullptr;
  const std::string* password = nullptr;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const bool more = i + 1 < args.size();
    // AUTH takes two arguments; with fewer it is a syntax error, as in Redis.
    if (equalsIgnoreCase(args[i], "AUTH") && i + 2 < args.size()) {
      user = &args[i + 1];
      password = &args[i + 2];
      i += 2;
    } else if (equalsIgnoreCase(args[i], "SETNAME") && more) {
      new_name = args[++i];
      set_name = true;
      if (!validClientName(new_name)) {
        appendError(out, "ERR Client names cannot contain spaces, newlines or special characters.");
        return;
      }
    } else {
      appendError(out, "ERR Syntax error in HELLO option '" + args[i] + "'");
      return;
    }
  }
  // As Redis 7.0: the options are checked first, then AUTH, then whether the client may
  // go on at all.
  if (user != nullptr && !helloLogin(session, out, *user, *password)) return;
  if (!session.auth().authenticated()) {
    appendError(out,
                "NOAUTH HELLO must be called with the client already authenticated, "
                "otherwise the HELLO AUTH <user> <pass> option can be used to authenticate "
                "the client and select the RESP protocol version at the same time");
    return;
  }
  if (set_name) session.info().name = new_name;
  resp::appendArrayHeader(out, 14);
  resp::appendBulk(out, "server");
  resp::appendBulk(out, "redis");
  resp::appendBulk(out, "version");
  resp::appendBulk(out, kRedisVersion);
  resp::appendBulk(out, "proto");
  resp::appendInteger(out, 2);
  resp::appendBulk(out, "id");
  resp::appendInteger(out, static_cast<std::int64_t>(session.info().id));
  resp::appendBulk(out, "mode");
  resp::appendBulk(out, "cluster");
  resp::appendBulk(out, "role");
  resp::appendBulk(out, "master");
  resp::appendBulk(out, "modules");
  resp::appendArrayHeader(out, 0);
}

void Dispatcher::client(Session& session, std::vector<std::string>& args) {
  std::string& out = session.replyNow();
  ClientInfo& me = session.info();
  const std::string sub = toLower(args[1]);
  if (sub == "setname" && args.size() == 3) {
    if (!validClientName(args[2])) {
      appendError(out, "ERR Client names cannot contain spaces, newlines or special characters.");
      return;
    }
    me.name = args[2];
    resp::appendSimple(out, "OK");
  } else if (sub == "getname" && args.size() == 2) {
    if (me.name.empty()) {
      resp::appendNil(out);
    } else {
      resp::appendBulk(out, me.name);
    }
  } else if (sub == "id" && args.size() == 2) {
    resp::appendInteger(out, static_cast<std::int64_t>(me.id));
  } else if (sub == "setinfo" && args.size() == 4) {
    const std::string attr = toLower(args[2]);
    if (attr == "lib-name") {
      me.lib_name = args[3];
    } else if (attr == "lib-ver") {
      me.lib_ver = args[3];
    } else {
      appendError(out, "ERR Unrecognized option '" + args[2] + "'");
      return;
    }
    resp::appendSimple(out, "OK");
  } else if (sub == "info" && args.size() == 2) {
    const auto now = std::chrono::steady_clock::now();
    const auto age = std::chrono::duration_cast<std::chrono::seconds>(now - me.connected).count();
    const auto idle =
        std::chrono::duration_cast<std::chrono::seconds>(now - me.last_active).count();
    resp::appendBulk(out, "id=" + std::to_string(me.id) + " addr=" + me.peer + " name=" + me.name +
                              " age=" + std::to_string(age) + " idle=" + std::to_string(idle) +
                              " db=0 lib-name=" + me.lib_name + " lib-ver=" + me.lib_ver + "\n");
  } else if (sub == "no-touch") {
    resp::appendSimple(out, "OK");  // per-connection hints with no meaning through a proxy
  } else {
    appendError(out, "ERR readthru: CLIENT " + args[1] +
                         " is not supported through the proxy (supported: SETNAME, GETNAME, "
                         "ID, SETINFO, INFO)");
  }
}

}  // namespace readthru::server
