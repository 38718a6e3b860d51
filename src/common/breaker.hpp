#pragma once
// A circuit breaker for one thing readthru depends on (a Redis node, the database),
// shared by every io thread, so the process has one opinion of its health (as Envoy's
// outlier detection keeps one per host).
//
//   closed ──(N consecutive failures, or a trip() by a failure-rate rule)──► open
//   open ──(open time passed; one caller takes the probe)──► half-open
//   half-open ──(probe succeeded)──► closed        half-open ──(probe failed)──► open, longer
//
// While it is not closed, work for it fails at once instead of waiting for a timeout. The
// open time doubles on each re-open from `open_time` up to `max_open_time`, with jitter,
// so a server that comes back is not met by every instance at the same moment. What a
// failure and a success are is the user's business (a timeout, a broken connection, a
// failed connect; any answer).
//
// Thread-safety: all members are atomics. The hot path reads one (the state) and writes
// only on a failure or on the first success after one, so healthy traffic does not bounce
// a shared cache line between threads.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "common/units.hpp"

namespace readthru {

// Uniform in [d/2, d] ("equal jitter"): never less than half of `d`, and waits that began
// together (threads, instances) end apart. For breaker periods and reconnect back-off.
Millis jittered(Millis d);

struct BreakerOptions {
  int consecutive_failures = 5;  // 0: never opens on a run of failures
  // Opens when at least `min_requests` requests in one `window` had this share of
  // failures (counted per connection; 0 turns the rate rule off).
  double failure_rate = 0.5;
  int min_requests = 20;
  Millis window{10000};
  Millis open_time{1000};
  Millis max_open_time{30000};
  // A probe that has not reported after this long (its caller went away) is given up on,
  // and the next caller probes: a lost probe must not leave the breaker half-open forever.
  Millis probe_timeout{10000};
};

class Breaker {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State : std::uint8_t { kClosed, kOpen, kHalfOpen };

  // `subject` names what it guards in logs: "redis node 127.0.0.1:7000", "postgres".
  Breaker(std::string subject, BreakerOptions options);

  // Whether a request may be sent now (closed). Cheap: one relaxed load.
  bool allows() const { return state_.load(std::memory_order_relaxed) == State::kClosed; }
  // True for exactly one caller once the open time has passed (or the last probe was
  // lost): it moves the breaker to half-open and must send the probe, then report it with
  // onProbe().
  bool takeProbe(Clock::time_point now);
  void onProbe(bool ok);

  // Request outcomes, from any thread.
  void onSuccess();
  void onFailure();
  // A connection saw too many failures in its window (the rate rule).
  void trip(const char* why);

  State state() const { return state_.load(std::memory_order_relaxed); }
  const std::string& subject() const { return subject_; }
  const BreakerOptions& options() const { return options_; }

  std::uint64_t opened() const { return opened_.load(std::memory_order_relaxed); }
  std::uint64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }
  void countRejected() { rejected_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void open(State from, const char* why);

  const std::string subject_;
  const BreakerOptions options_;
  std::atomic<State> state_{State::kClosed};
  std::atomic<int> consecutive_{0};
  std::atomic<int> reopens_{0};               // open periods in a row without closing
  std::atomic<std::int64_t> open_until_{0};   // Clock ticks
  std::atomic<std::int64_t> probe_until_{0};  // Clock ticks: when a half-open probe is lost
  std::atomic<std::uint64_t> opened_{0};
  std::atomic<std::uint64_t> rejected_{0};
};

}  // namespace readthru
