#include "app/service_state.hpp"

#include <algorithm>

#include "common/log.hpp"

namespace readthru::app {

ServiceState::ServiceState(boost::asio::io_context& main, std::size_t threads,
                           std::size_t keyspaces, Probe probe)
    : watchdog_timer_(main), probe_(std::move(probe)), nodes_(threads, 0), keyspaces_(keyspaces) {}

void ServiceState::start() {
  if (!notifier_.enabled()) return;
  notifier_.send("STATUS=starting: waiting for the slot map");
  if (auto timeout = notifier_.watchdogTimeout()) {
    spdlog::info("service manager watchdog: every {}ms", timeout->count() / 2000);
    watchdogTick();
  }
}

// Each tick sends a probe through every io loop and pets the watchdog when it comes back;
// while one is out, no new one starts, so a stuck loop stops the pets for good.
void ServiceState::watchdogTick() {
  if (!probing_) {
    probing_ = true;
    probe_([this] {
      probing_ = false;
      notifier_.send("WATCHDOG=1");
    });
  }
  // Half the timeout, as sd_watchdog_enabled(3) advises: one late tick is not a kill.
  watchdog_timer_.expires_after(*notifier_.watchdogTimeout() / 2);
  watchdog_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) watchdogTick();
  });
}

void ServiceState::onTopology(std::size_t thread, std::size_t nodes) {
  if (thread >= nodes_.size()) return;
  nodes_[thread] = nodes;
  switch (phase_) {
    case Phase::kStarting:
      if (std::find(nodes_.begin(), nodes_.end(), 0) != nodes_.end()) return;
      phase_ = Phase::kServing;
      notifier_.send("READY=1\nSTATUS=" + serving());
      return;
    case Phase::kServing:
      notifier_.send("STATUS=" + serving());
      return;
    case Phase::kReloading:
    case Phase::kStopping:
      return;  // their own status line stands; the next READY=1 brings the new size
  }
}

void ServiceState::onReloadStarted() {
  if (phase_ == Phase::kStarting) {
    notifier_.send("STATUS=starting: reloading the config");
    return;
  }
  if (phase_ != Phase::kServing) return;
  phase_ = Phase::kReloading;
  // The manager matches MONOTONIC_USEC against the time it sent SIGHUP (Type=notify-reload):
  // a reload that began before its signal does not answer it.
  notifier_.send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(notifier_.monotonicMicros()) +
                 "\nSTATUS=reloading the config");
}

void ServiceState::onReloadFinished(const std::string& error, std::size_t keyspaces) {
  if (error.empty()) keyspaces_ = keyspaces;
  if (phase_ != Phase::kReloading) return;
  phase_ = Phase::kServing;
  std::string status = serving();
  if (!error.empty()) {
    // One line: a newline would start a new assignment in the message.
    std::string why = error;
    std::replace(why.begin(), why.end(), '\n', ' ');
    status = "reload rejected, the previous config runs (" + why + "); " + status;
  }
  notifier_.send("READY=1\nSTATUS=" + status);
}

void ServiceState::onDrainStarted() {
  phase_ = Phase::kStopping;
  notifier_.send("STOPPING=1\nSTATUS=draining");
}

std::string ServiceState::serving() const {
  return "serving: " + std::to_string(keyspaces_) + " keyspace(s), slot map of " +
         std::to_string(nodes_.front()) + " node(s)";
}

}  // namespace readthru::app
