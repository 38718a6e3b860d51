#pragma once
// One dependency's outage, as the log tells it: a line when it starts, a reminder at most
// every `remind_every` while it lasts ("still down, N retries"), a line when it ends
// ("back after N retries, T ms") — never a line per retry. Pure: the caller passes the
// time and logs what it is told to; one owner (one thread).

#include <chrono>
#include <cstdint>

namespace readthru {

class Outage {
 public:
  using Clock = std::chrono::steady_clock;

  enum class Say : std::uint8_t {
    kNothing,    // log at debug at most
    kDown,       // the first failure after success (or since start)
    kStillDown,  // a reminder: remind_every has passed since the last line
    kBack,       // the first success after failures
  };

  explicit Outage(Clock::duration remind_every = std::chrono::seconds(30))
      : remind_every_(remind_every) {}

  // An attempt failed at `now`.
  Say failed(Clock::time_point now) {
    ++failures_;
    if (failures_ == 1) {
      since_ = last_said_ = now;
      return Say::kDown;
    }
    if (now - last_said_ < remind_every_) return Say::kNothing;
    last_said_ = now;
    return Say::kStillDown;
  }

  // An attempt succeeded: kBack when it ends an outage (read failures() and downFor()
  // before the next failed()), else kNothing.
  Say succeeded(Clock::time_point now) {
    if (failures_ == 0) return Say::kNothing;
    ended_failures_ = failures_;
    ended_after_ = now - since_;
    failures_ = 0;
    return Say::kBack;
  }

  bool down() const { return failures_ > 0; }
  // Failures so far in the current outage, or of the one that just ended.
  std::uint64_t failures() const { return failures_ > 0 ? failures_ : ended_failures_; }
  // How long the current outage has lasted at `now`, or how long the one that ended did.
  std::chrono::milliseconds downFor(Clock::time_point now) const {
    const Clock::duration d = failures_ > 0 ? now - since_ : ended_after_;
    return std::chrono::duration_cast<std::chrono::milliseconds>(d);
  }

 private:
  Clock::duration remind_every_;
  std::uint64_t failures_ = 0;
  std::uint64_t ended_failures_ = 0;
  Clock::duration ended_after_{};
  Clock::time_point since_{};
  Clock::time_point last_said_{};
};

}  // namespace readthru
