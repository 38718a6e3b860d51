#pragma once
// The port through which the command path reaches Redis. backend/redis implements it;
// the server (and, later, the read-through service) only sees this interface, so a
// keyspace rule can take over GET/MGET/HGETALL without the server knowing.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "command/command_table.hpp"
#include "metrics/cells.hpp"
#include "metrics/snapshot.hpp"
#include "resp/value.hpp"

namespace readthru::cache {

// A client command that passed the table checks (known command, arity ok).
struct Command {
  std::vector<std::string> args;
  const command::CommandSpec* spec = nullptr;
  // The client's id: a backend keeps one client's commands on one connection per node,
  // so a client's pipeline runs on Redis in the order it was sent.
  std::uint64_t client_id = 0;
};

// Called exactly once, on the io thread that issued the command. Failures arrive as
// error values (resp::Type::kError) with the text the client should see.
using ReplyCallback = std::function<void(resp::Value)>;

// One node's answer to a command sent to every node (Backend::executeOnEveryNode).
struct NodeReply {
  std::string node;  // "host:port"
  bool replica = false;
  resp::Value reply;  // an error value when the node could not answer in time
};
using NodeRepliesCallback = std::function<void(std::vector<NodeReply>)>;

class Backend : public metrics::Source {
 public:
  // Runs `cmd` against Redis (routing, splitting, redirects and retries are the
  // backend's business). Never throws. `done` may run before execute() returns, when the
  // answer is known at once (a malformed command, no reachable node).
  virtual void execute(Command cmd, ReplyCallback done) = 0;

  // Sends `args` to every master of the current topology (and, with `replicas`, every
  // replica) and hands back each node's answer, for figures readthru sums itself (INFO)
  // or judges per node (the doctor). Each answer is bounded by the backend's timeouts;
  // with no topology known yet `done` gets an empty list.
  virtual void executeOnEveryNode(std::vector<std::string> args, bool replicas,
                                  NodeRepliesCallback done) = 0;

  // A command of readthru's own (looked up in the command table). Affinity 0 puts all of a
  // thread's own commands to a node on one connection, so they run in the order sent.
  void send(std::vector<std::string> args, ReplyCallback done, std::uint64_t affinity = 0) {
    const command::CommandSpec* spec = command::lookup(args);
    execute({std::move(args), spec, affinity}, std::move(done));
  }
};

}  // namespace readthru::cache
