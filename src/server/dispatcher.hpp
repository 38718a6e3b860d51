#pragma once
// Decides, for each parsed request, who answers it: readthru itself (PING, HELLO, CLIENT,
// COMMAND, INFO, the emulated CLUSTER view...), or the backend behind the cache::Backend
// port. One Dispatcher per io thread. Errors a client sees use Redis's own wording.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "cache/backend.hpp"
#include "cache/read_through.hpp"
#include "command/command_table.hpp"
#include "server/backend_info.hpp"
#include "server/slow_log.hpp"

namespace readthru::server {

class Session;
struct ClientInfo;
struct ServerContext;
struct ThreadStats;

class Dispatcher {
 public:
  // `read_through` is null when no keyspace is configured. `io` is this thread's.
  Dispatcher(boost::asio::io_context& io, ServerContext& ctx, ThreadStats& stats,
             cache::Backend& backend, cache::ReadThrough* read_through);

  // Handles one request; `args` may be moved from. Its reply goes into the session's
  // reply order, now or later.
  void dispatch(Session& session, std::vector<std::string>& args);

  // A command of this thread took past log.slow_threshold: into the slow log.
  void slow(std::chrono::nanoseconds took, SlowSample sample, const ClientInfo& client);

 private:
  // An error reply (Redis's text, without '-'), counted by kind for INFO errorstats.
  void appendError(std::string& out, std::string_view text);
  // Authentication and ACL: false when the request was answered (refused) or dropped.
  bool admit(Session& session, const command::CommandSpec& spec,
             const std::vector<std::string>& args);
  // auth_commands.cpp: AUTH, ACL WHOAMI, HELLO's AUTH option
  void auth(Session& session, const std::vector<std::string>& args);
  void acl(Session& session, const std::vector<std::string>& args);
  // Appends WRONGPASS and returns false when the login fails.
  bool helloLogin(Session& session, std::string& out, std::string_view user,
                  std::string_view password);
  // local_commands.cpp
  void local(Session& session, const command::CommandSpec& spec, std::vector<std::string>& args);
  void hello(Session& session, std::vector<std::string>& args);
  void client(Session& session, std::vector<std::string>& args);
  // readthru_commands.cpp: READTHRU.*
  void readthruCommand(Session& session, const command::CommandSpec& spec,
                       std::vector<std::string>& args);
  void reload(Session& session);
  void stats(Session& session, const std::vector<std::string>& args);
  void threadZeroCommand(Session& session, bool doctor, std::vector<std::string>& args);
  // introspection.cpp
  void commandCommand(std::string& out, const std::vector<std::string>& args);
  // INFO: backend sums are fetched (or taken from the cache) before the reply.
  void info(Session& session, const std::vector<std::string>& args);
  void cluster(std::string& out, const std::vector<std::string>& args);
  // slowlog_command.cpp: SLOWLOG, from readthru's own slow log
  void slowlog(std::string& out, const std::vector<std::string>& args);
  // A command readthru answers itself is timed from dispatch to its reply: at once, or,
  // for one that waits on something (INFO's backend sums, READTHRU.INVALIDATE…), when
  // the place it took with localReplyLater() is filled. Past log.slow_threshold it goes
  // to the slow log, as a command sent on does.
  void runLocal(Session& session, const command::CommandSpec& spec, std::vector<std::string>& args);
  cache::ReplyCallback localReplyLater(Session& session);
  void localDone(std::size_t command, std::chrono::steady_clock::time_point start,
                 SlowSample sample, const ClientInfo& client);
  // To Redis or the read-through service, timed (and sampled for the slow log).
  void sendOn(Session& session, const command::CommandSpec& spec, std::vector<std::string>& args);

  boost::asio::io_context& io_;
  ServerContext& ctx_;
  ThreadStats& stats_;
  cache::Backend& backend_;
  cache::ReadThrough* read_through_;
  BackendInfoCache backend_info_;
  std::size_t thread_ = 0;  // index of this io thread (its ThreadStats in the context)
  // The local command being dispatched now (one at a time: dispatch does not nest).
  struct LocalRun {
    std::size_t command;
    std::chrono::steady_clock::time_point start;
    SlowSample sample;
    bool deferred = false;  // its reply comes later: localReplyLater() took its timing
  };
  std::optional<LocalRun> local_run_;
};

// Redis's texts, shared by the dispatcher and its tests.
std::string unknownCommandError(const std::vector<std::string>& args);
std::string wrongArityError(std::string_view command_name);
// A 64-bit integer as Redis's string2ll reads it (no '+', no spaces, no leading zeros).
std::optional<long long> parseRedisInteger(std::string_view s);

}  // namespace readthru::server
