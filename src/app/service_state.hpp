#pragma once
// What readthru tells its service manager (service_notifier.hpp), and when:
//
//   READY=1      once the listener is bound and every io thread knows a slot map, so that
//                a unit ordered after readthru finds it able to route keyed commands
//   RELOADING=1  with MONOTONIC_USEC=<now>, when a reload (SIGHUP, READTHRU.RELOAD) starts;
//                READY=1 when it ends, applied or rejected (a rejected one also says why
//                in STATUS=)
//   STOPPING=1   when the drain starts
//   WATCHDOG=1   every half of the watchdog timeout, from a timer on io thread 0, once
//                every io thread has answered a probe: an io loop that hangs stops it,
//                and the manager acts
//   STATUS=...   a line on each of these changes and when the slot map's size changes
//
// Lives on io thread 0; every call is made there. Reloads and a drain that begin before
// READY=1 send only their STATUS= line: the manager is still waiting for the start.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "app/service_notifier.hpp"

namespace readthru::app {

class ServiceState {
 public:
  // Runs its argument on io thread 0 once every io thread has run a handler posted at the
  // call (Runtime::probeThreads).
  using Probe = std::function<void(std::function<void()> done)>;

  // `threads`: io threads whose slot maps must be known before READY=1.
  ServiceState(boost::asio::io_context& main, std::size_t threads, std::size_t keyspaces,
               Probe probe);

  // Starts the watchdog timer when the manager asked for one.
  void start();
  // Io thread `thread`'s slot map names `nodes` nodes (the first map, or a new size).
  void onTopology(std::size_t thread, std::size_t nodes);
  void onReloadStarted();
  // `error` is empty when the new config runs; `keyspaces` is the count running now.
  void onReloadFinished(const std::string& error, std::size_t keyspaces);
  void onDrainStarted();

 private:
  enum class Phase { kStarting, kServing, kReloading, kStopping };

  std::string serving() const;
  void watchdogTick();

  ServiceNotifier notifier_;
  boost::asio::steady_timer watchdog_timer_;
  Probe probe_;
  bool probing_ = false;  // a probe is out: until every thread answers, no WATCHDOG=1
  Phase phase_ = Phase::kStarting;
  std::vector<std::size_t> nodes_;  // per io thread; 0 until its first map
  std::size_t keyspaces_;
};

}  // namespace readthru::app
