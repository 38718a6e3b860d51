#include "app/service_notifier.hpp"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <cstring>
#include <ctime>

#include "common/log.hpp"

namespace readthru::app {

ServiceNotifier::ServiceNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && *socket != '\0';
  if (!enabled_) return;
  std::uint64_t usec = 0;
  if (::sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_ = std::chrono::microseconds(usec);
  }
}

void ServiceNotifier::send(const std::string& state) {
  if (!enabled_) return;
  const int rc = ::sd_notify(0, state.c_str());
  if (rc >= 0) {
    last_error_ = 0;
    return;
  }
  // The manager went away or its socket is full: say so once, not at every watchdog tick.
  if (rc != last_error_) {
    spdlog::warn("service manager notification failed: {}", std::strerror(-rc));
    last_error_ = rc;
  }
}

std::uint64_t ServiceNotifier::monotonicMicros() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000u +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

}  // namespace readthru::app
