#pragma once
// One circuit breaker per Redis node for the process (common/breaker.hpp), shared by
// every io thread's connections to it. A failure is one event (a timeout, a broken
// connection, a failed connect), a success any reply; the PING probe is sent by one
// connection from the router's sweep. The failure-rate rule is judged per connection
// (node_connection.cpp) and trips the shared breaker.

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/breaker.hpp"
#include "metrics/cells.hpp"
#include "metrics/snapshot.hpp"

namespace readthru::backend::redis {

using readthru::Breaker;
using readthru::BreakerOptions;
using readthru::jittered;

// The process's breakers, one per node address ("host:port", a replica's too). Looked up
// when a connection is created (under a mutex), never per request.
class BreakerTable : public metrics::Source {
 public:
  explicit BreakerTable(BreakerOptions options) : options_(options) {}

  std::shared_ptr<Breaker> get(const std::string& node);

  // backend_breakers_open (now), backend_breaker_opened, backend_breaker_rejected.
  void collect(metrics::Sink& sink) const override;

 private:
  BreakerOptions options_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<Breaker>> breakers_;
};

}  // namespace readthru::backend::redis
