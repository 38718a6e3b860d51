#pragma once
// The graceful stop, run on io thread 0 when SIGTERM or SIGINT arrives:
//
//   1. The listener closes (new connections are refused) and the invalidation inputs stop.
//   2. Every client connection stops reading; the requests it had read are answered, then
//      it closes (server::Server::drain). The backends keep running for them.
//   3. When the last connection has closed, or listen.drain_timeout has passed (the
//      connections still open are closed, with what they were owed counted and logged),
//      the backends and io threads stop and the process exits 0.
//
// A second stop signal during step 2 closes what is left at once and exits 1, so that a
// supervisor can tell a stop that was cut short from a clean one. One line is logged when
// the drain starts and one when it ends, with counts and the time it took. The service
// manager hears STOPPING=1 when it starts (service_state.hpp).

#include <boost/asio/steady_timer.hpp>
#include <chrono>

#include "common/units.hpp"
#include "server/session_list.hpp"

namespace readthru::app {

class Runtime;
class ServiceState;

class Drain {
 public:
  // `service` is told when the drain starts (STOPPING=1).
  Drain(Runtime& runtime, ServiceState& service, Millis timeout);

  // A stop signal arrived (on io thread 0).
  void onSignal(int signal);
  // listen.drain_timeout after a reload (on io thread 0): for a drain that starts later.
  void setTimeout(Millis timeout) { timeout_ = timeout; }

  // The process's exit code once Runtime::run() has returned: 0 after a drain, whether
  // every reply was sent or drain_timeout cut it; 1 when a second signal cut it short.
  int exitCode() const { return exit_code_; }

 private:
  enum class State { kServing, kDraining, kCutting, kDone };

  void begin(int signal);
  void drained();
  void cut(const char* why, int exit_code);
  void finish();
  long long elapsedMs() const;

  Runtime& runtime_;
  ServiceState& service_;
  Millis timeout_;
  State state_ = State::kServing;
  int exit_code_ = 0;
  std::chrono::steady_clock::time_point started_;
  boost::asio::steady_timer timer_;
};

}  // namespace readthru::app
