#pragma once
// Waiting in tests for something that happens in another process (a CDC leader taking
// over, a stream entry applied, a database coming back): poll, with a deadline, never a
// bare sleep.

#include <chrono>
#include <functional>
#include <thread>

namespace readthru::testing {

// Polls `ok` every `every` until it returns true or `timeout` passes (then one last try).
inline bool eventually(const std::function<bool()>& ok,
                       std::chrono::milliseconds timeout = std::chrono::seconds(15),
                       std::chrono::milliseconds every = std::chrono::milliseconds(50)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ok()) return true;
    std::this_thread::sleep_for(every);
  }
  return ok();
}

}  // namespace readthru::testing
