#pragma once
// The port to the service manager: systemd's notification socket ($NOTIFY_SOCKET), wrapped
// once here so that nothing else includes systemd's headers. When readthru was not started
// by a service manager that listens (NOTIFY_SOCKET unset), every call does nothing.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace readthru::app {

class ServiceNotifier {
 public:
  // Reads the environment once (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID) and leaves
  // it as it is: sd_notify() reads NOTIFY_SOCKET again at each send.
  ServiceNotifier();

  // Whether a service manager listens.
  bool enabled() const { return enabled_; }
  // The watchdog timeout the manager set for this process, when it set one
  // (sd_watchdog_enabled: WATCHDOG_USEC, with WATCHDOG_PID unset or ours).
  std::optional<std::chrono::microseconds> watchdogTimeout() const { return watchdog_; }

  // Sends `state`, newline-separated VAR=value assignments as sd_notify(3) lists them
  // ("READY=1\nSTATUS=serving"). A failed send is logged once per kind of failure and
  // otherwise ignored: the manager's view is advice, never a reason to stop serving.
  void send(const std::string& state);

  // CLOCK_MONOTONIC now, in microseconds: what MONOTONIC_USEC= carries.
  static std::uint64_t monotonicMicros();

 private:
  bool enabled_ = false;
  std::optional<std::chrono::microseconds> watchdog_;
  int last_error_ = 0;
};

}  // namespace readthru::app
