#include <memory>

#include "cache/backend.hpp"

namespace readthru::cache {

void askEveryNode(Backend& backend, const std::vector<std::string>& args, bool replicas,
                  NodeRepliesCallback done) {
  struct Gathered {
    std::size_t remaining = 0;
    std::vector<NodeReply> replies;
    NodeRepliesCallback done;
  };
  std::vector<NodeRef> nodes = backend.nodes();
  if (!replicas) std::erase_if(nodes, [](const NodeRef& n) { return n.replica; });
  if (nodes.empty()) {
    done({});
    return;
  }
  auto g = std::make_shared<Gathered>();
  for (const NodeRef& n : nodes) g->replies.push_back({n.endpoint.str(), n.replica, {}});
  g->remaining = nodes.size();
  g->done = std::move(done);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    backend.executeOn(nodes[i], args, [g, i](resp::Value v) {
      g->replies[i].reply = std::move(v);
      if (--g->remaining == 0) g->done(std::move(g->replies));
    });
  }
}

}  // namespace readthru::cache
