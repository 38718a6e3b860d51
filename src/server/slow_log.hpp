#pragma once
// readthru's slow log: client commands sent on (to Redis or the read-through service)
// whose reply took longer than log.slow_threshold, kept for SLOWLOG GET in Redis's own
// format and logged at warn, at most log.slow_log_lines_per_second lines a second across
// the process (the rest are counted, and said so in the next line let through).
//
// Cost: a command under the threshold costs the compare in slow(); with the slow log on,
// its first 32 arguments (128 bytes each at most) are also kept until its reply, as the
// request itself has gone to the backend by then. Only a slow command takes a lock: that
// of its own thread's ring (uncontended but for a SLOWLOG on another thread) and, to be
// logged, the line budget's. One SlowLog per process, in the ServerContext.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "command/command_table.hpp"
#include "common/line_budget.hpp"
#include "config/config.hpp"
#include "metrics/registry.hpp"
#include "server/slow_ring.hpp"

namespace readthru::server {

// What a command sent on carries until its reply, for the slow log.
struct SlowSample {
  const command::CommandSpec* spec = nullptr;  // null: the slow log was off at dispatch
  std::vector<std::string> argv;               // slowLogArgv() of the request
};

class SlowLog : public metrics::Source {
 public:
  // One ring per io thread, added before the io threads run.
  void addThread();
  std::size_t threads() const { return threads_.size(); }

  // At start and on a reload (io thread 0); io threads read the values as they go.
  void configure(const config::LogConfig& cfg);

  // At dispatch: what to keep for the slow log (nothing when it is off).
  SlowSample sample(const command::CommandSpec& spec, std::span<const std::string> args) const;

  // The whole cost of a command under the threshold.
  bool slow(std::chrono::nanoseconds took) const {
    return took.count() > threshold_ns_.load(std::memory_order_relaxed);
  }

  // A command of io thread `thread` was slow (slow() said so): kept in its ring, counted,
  // and logged when the line budget allows.
  void record(std::size_t thread, std::chrono::nanoseconds took, SlowSample sample,
              const std::string& peer, const std::string& client_name);

  // --- SLOWLOG, from any io thread
  // The newest `count` entries of every thread, newest first.
  std::vector<SlowEntry> newest(std::size_t count) const;
  // Entries kept (at most slow_log_max_len, as SLOWLOG GET -1 would list).
  std::size_t size() const;
  void reset();

  void collect(metrics::Sink& sink) const override;

 private:
  struct alignas(64) Thread {
    mutable std::mutex mutex;  // the ring: written by its thread, read by any SLOWLOG
    SlowRing ring;
    metrics::Counter slow;  // written by its thread only
  };

  void logLine(const SlowEntry& entry, const SlowSample& sample);

  std::vector<std::unique_ptr<Thread>> threads_;
  std::atomic<std::int64_t> threshold_ns_{std::numeric_limits<std::int64_t>::max()};
  std::atomic<std::size_t> max_len_{128};
  std::atomic<std::uint64_t> next_id_{0};
  std::mutex budget_mutex_;
  LineBudget budget_;
};

// Redis's reply to SLOWLOG HELP, one line each (status replies).
std::span<const std::string_view> slowlogHelp();

}  // namespace readthru::server
