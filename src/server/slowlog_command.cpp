// Dispatcher: SLOWLOG, answered from readthru's own slow log (server/slow_log.hpp) in
// Redis 7.0's reply format. A node's own slow log is the node's: redis-cli against it.

#include "common/text.hpp"
#include "resp/writer.hpp"
#include "server/context.hpp"
#include "server/dispatcher.hpp"

namespace readthru::server {
namespace {

// Redis: 10 unless given; -1 for all.
constexpr std::size_t kDefaultCount = 10;

void appendEntry(std::string& out, const SlowEntry& e) {
  resp::appendArrayHeader(out, 6);
  resp::appendInteger(out, static_cast<std::int64_t>(e.id));
  resp::appendInteger(out, e.unix_seconds);
  resp::appendInteger(out, static_cast<std::int64_t>(e.micros));
  resp::appendArrayHeader(out, e.argv.size());
  for (const std::string& arg : e.argv) resp::appendBulk(out, arg);
  resp::appendBulk(out, e.peer);
  resp::appendBulk(out, e.name);
}

}  // namespace

// The table has checked the arity of LEN, RESET and HELP (exactly 2) and GET's minimum.
void Dispatcher::slowlog(std::string& out, const std::vector<std::string>& args) {
  const std::string sub = toLower(args[1]);
  if (sub == "get" && args.size() <= 3) {
    std::size_t count = kDefaultCount;
    if (args.size() == 3) {
      const auto n = parseRedisInteger(args[2]);
      if (!n || *n < -1) {
        appendError(out, "ERR count should be greater than or equal to -1");
        return;
      }
      count = *n == -1 ? SIZE_MAX : static_cast<std::size_t>(*n);
    }
    const std::vector<SlowEntry> entries = ctx_.slow_log.newest(count);
    resp::appendArrayHeader(out, entries.size());
    for (const SlowEntry& e : entries) appendEntry(out, e);
  } else if (sub == "len") {
    resp::appendInteger(out, static_cast<std::int64_t>(ctx_.slow_log.size()));
  } else if (sub == "reset") {
    ctx_.slow_log.reset();
    resp::appendSimple(out, "OK");
  } else if (sub == "help") {
    const auto help = slowlogHelp();
    resp::appendArrayHeader(out, help.size());
    for (std::string_view line : help) resp::appendSimple(out, line);
  } else if (sub == "get") {
    appendError(out,
                "ERR unknown subcommand or wrong number of arguments for 'get'. Try "
                "SLOWLOG HELP.");
  } else {
    appendError(out, "ERR unknown subcommand '" + args[1] + "'. Try SLOWLOG HELP.");
  }
}

}  // namespace readthru::server
