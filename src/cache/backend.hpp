#pragma once
// The port through which the command path reaches Redis. backend/redis implements it;
// the server (and, later, the read-through service) only sees this interface, so a
// keyspace rule can take over GET/MGET/HGETALL without the server knowing.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "command/command_table.hpp"
#include "config/config.hpp"
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

// One Redis node by its address and role, for commands about the node itself.
struct NodeRef {
  config::Endpoint endpoint;
  bool replica = false;
};

// One node's answer to a command sent to every node (askEveryNode()).
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

  // A command of readthru's own (looked up in the command table). Affinity 0 puts all of a
  // thread's own commands to a node on one connection, so they run in the order sent.
  void send(std::vector<std::string> args, ReplyCallback done, std::uint64_t affinity = 0) {
    const command::CommandSpec* spec = command::lookup(args);
    execute({std::move(args), spec, affinity}, std::move(done));
  }

  // The nodes the backend knows now (masters, then replicas); empty before the first map.
  virtual std::vector<NodeRef> nodes() const { return {}; }
  // Sends `args` to `node` itself, not where the command table would route it: readthru's
  // own questions about one node (CONFIG GET, INFO, MEMORY DOCTOR for the doctor). `done`
  // as for execute(), within the backend's command timeout.
  virtual void executeOn(const NodeRef& node, std::vector<std::string> args, ReplyCallback done) {
    (void)node;
    (void)args;
    done(resp::Value::error("ERR readthru: this backend cannot address a single node"));
  }
};

// Sends `args` to every master the backend knows (and, with `replicas`, every replica)
// through executeOn() and hands back each node's answer, for figures readthru sums itself
// (INFO). Each answer is bounded by the backend's timeouts; with no topology known yet
// `done` gets an empty list.
void askEveryNode(Backend& backend, const std::vector<std::string>& args, bool replicas,
                  NodeRepliesCallback done);

}  // namespace readthru::cache
