#include "server/dispatcher.hpp"

#include <optional>

#include "common/log.hpp"
#include "resp/writer.hpp"
#include "server/context.hpp"
#include "server/session.hpp"

namespace readthru::server {

std::string unknownCommandError(const std::vector<std::string>& args) {
  // Redis 7 (server.c, processCommand): name cut at 128 bytes, then each argument quoted
  // and followed by a space until the list passes 128 bytes.
  std::string list;
  for (std::size_t i = 1; i < args.size() && list.size() < 128; ++i) {
    const std::size_t room = 128 - list.size();
    list += "'";
    list.append(args[i], 0, room);
    list += "' ";
  }
  return "ERR unknown command '" + args[0].substr(0, 128) + "', with args beginning with: " + list;
}

std::size_t commandIndex(const command::CommandSpec& spec) {
  return static_cast<std::size_t>(&spec - command::allCommands().data());
}

std::string wrongArityError(std::string_view command_name) {
  return "ERR wrong number of arguments for '" + std::string(command_name) + "' command";
}

Dispatcher::Dispatcher(boost::asio::io_context& io, ServerContext& ctx, ThreadStats& stats,
                       cache::Backend& backend, cache::ReadThrough* read_through)
    : io_(io),
      ctx_(ctx),
      stats_(stats),
      backend_(backend),
      read_through_(read_through),
      backend_info_(backend) {
  for (std::size_t i = 0; i < ctx.stats.size(); ++i) {
    if (ctx.stats[i].get() == &stats) thread_ = i;
  }
}

void Dispatcher::sendOn(Session& session, const command::CommandSpec& spec,
                        std::vector<std::string>& args) {
  // The reply's place, timed and sampled for the slow log while `args` are still here.
  cache::ReplyCallback reply =
      session.replyLater(commandIndex(spec), ctx_.slow_log.sample(spec, args));
  cache::Command cmd{std::move(args), &spec, session.info().id};
  if (read_through_ != nullptr && read_through_->owns(spec, cmd.args)) {
    read_through_->execute(std::move(cmd), std::move(reply));
    return;
  }
  backend_.execute(std::move(cmd), std::move(reply));
}

void Dispatcher::runLocal(Session& session, const command::CommandSpec& spec,
                          std::vector<std::string>& args) {
  const std::size_t index = commandIndex(spec);
  local_run_.emplace(
      LocalRun{index, std::chrono::steady_clock::now(), ctx_.slow_log.sample(spec, args)});
  if (spec.name == "info") {
    info(session, args);
  } else if (spec.group == "readthru") {
    readthruCommand(session, spec, args);
  } else {
    local(session, spec, args);
  }
  LocalRun run = std::move(*local_run_);
  local_run_.reset();
  if (!run.deferred) localDone(run.command, run.start, std::move(run.sample), session.info());
}

cache::ReplyCallback Dispatcher::localReplyLater(Session& session) {
  cache::ReplyCallback reply = session.replyLater();
  if (!local_run_ || local_run_->deferred) return reply;
  local_run_->deferred = true;
  // The dispatcher outlives every session of its thread; the client's name and address
  // are copied now, as the session may be gone when the reply comes.
  return [this, reply = std::move(reply), command = local_run_->command, start = local_run_->start,
          sample = std::move(local_run_->sample), client = session.info()](resp::Value v) mutable {
    localDone(command, start, std::move(sample), client);
    reply(std::move(v));
  };
}

void Dispatcher::localDone(std::size_t command, std::chrono::steady_clock::time_point start,
                           SlowSample sample, const ClientInfo& client) {
  const auto took = std::chrono::steady_clock::now() - start;
  // Counted when done, as Redis does: INFO commandstats does not count itself.
  stats_.by_command[command].local.add();
  stats_.by_command[command].nanos.add(static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(took).count()));
  if (ctx_.slow_log.slow(took)) slow(took, std::move(sample), client);
}

void Dispatcher::appendError(std::string& out, std::string_view text) {
  appendCountedError(stats_.errors, out, text);
}

void Dispatcher::slow(std::chrono::nanoseconds took, SlowSample sample, const ClientInfo& client) {
  ctx_.slow_log.record(thread_, took, std::move(sample), client.peer, client.name);
}

// As Redis 7.0's processCommand: after the unknown-command and arity checks, a client that
// has not authenticated may run only the no_auth commands (AUTH, HELLO, QUIT, RESET), and an
// authenticated one what its user's rules allow (no_auth commands always).
bool Dispatcher::admit(Session& session, const command::CommandSpec& spec,
                       const std::vector<std::string>& args) {
  if (!session.refreshAuth()) {
    // A reload removed this connection's user: closed as Redis closes a deleted user's
    // clients, without a reply to this request.
    spdlog::debug("client {} closed: its user was removed by a reload", session.info().peer);
    session.closeAfterReplies();
    return false;
  }
  if (spec.has(command::kNoAuth)) return true;
  const ClientAuth& auth = session.auth();
  std::optional<std::string> refused;
  if (!auth.authenticated()) {
    refused = "NOAUTH Authentication required.";
  } else {
    refused = auth.user()->permissions.check(spec, args);
  }
  if (!refused) return true;
  appendError(session.replyNow(), *refused);
  return false;
}

void Dispatcher::dispatch(Session& session, std::vector<std::string>& args) {
  stats_.commands_processed.add();
  const command::CommandSpec* spec = command::lookup(args);
  if (spec == nullptr) {
    appendError(session.replyNow(), unknownCommandError(args));
    return;
  }
  if (!command::arityOk(*spec, args.size())) {
    appendError(session.replyNow(), wrongArityError(spec->name));
    return;
  }
  if (!admit(session, *spec, args)) return;
  switch (spec->route) {
    case command::Route::kLocal:
      runLocal(session, *spec, args);
      return;
    case command::Route::kUnsupported:
      appendError(session.replyNow(),
                  "ERR readthru: '" + std::string(spec->name) +
                      "' is not supported through the proxy: " + std::string(spec->route_note));
      return;
    default:
      sendOn(session, *spec, args);
      return;
  }
}

}  // namespace readthru::server
