#include "server/slow_log.hpp"

#include <algorithm>
#include <array>

#include "common/log.hpp"

namespace readthru::server {
namespace {

constexpr metrics::Family kSlowRequests{
    "readthru_slow_requests_total", metrics::Kind::kCounter,
    "Client commands sent on that took longer than log.slow_threshold.", "slow_requests"};

// Redis 7.0.15's SLOWLOG HELP, as redis-cli shows it.
constexpr std::array<std::string_view, 12> kHelp{
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
};

// The first key of the command as kept (its arguments may be cut): Redis's legacy key
// spec, or for movable keys the parse of the kept arguments. Empty when it has none.
std::string_view firstKey(const command::CommandSpec& spec, const std::vector<std::string>& argv) {
  if (spec.first_key > 0 && !spec.has(command::kMovableKeys)) {
    const auto i = static_cast<std::size_t>(spec.first_key);
    return i < argv.size() ? std::string_view(argv[i]) : std::string_view();
  }
  auto keys = command::keyPositions(spec, argv);
  if (!keys || keys->empty() || keys->front() >= argv.size()) return {};
  return argv[keys->front()];
}

}  // namespace

std::span<const std::string_view> slowlogHelp() { return kHelp; }

void SlowLog::addThread() { threads_.push_back(std::make_unique<Thread>()); }

void SlowLog::configure(const config::LogConfig& cfg) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(cfg.slow_threshold);
  threshold_ns_.store(ns.count() == 0 ? std::numeric_limits<std::int64_t>::max() : ns.count(),
                      std::memory_order_relaxed);
  max_len_.store(cfg.slow_log_max_len, std::memory_order_relaxed);
  for (const auto& t : threads_) {
    std::lock_guard lock(t->mutex);
    t->ring.setMaxLen(cfg.slow_log_max_len);
  }
  std::lock_guard lock(budget_mutex_);
  budget_.setPerSecond(cfg.slow_log_lines_per_second);
}

SlowSample SlowLog::sample(const command::CommandSpec& spec,
                           std::span<const std::string> args) const {
  if (threshold_ns_.load(std::memory_order_relaxed) == std::numeric_limits<std::int64_t>::max()) {
    return {};
  }
  SlowSample s{&spec, slowLogArgv(args)};
  redactSecrets(spec.name, s.argv);
  return s;
}

void SlowLog::record(std::size_t thread, std::chrono::nanoseconds took, SlowSample sample,
                     const std::string& peer, const std::string& client_name) {
  // Off at dispatch (the threshold was lowered from 0 by a reload since): nothing to keep.
  if (sample.spec == nullptr || thread >= threads_.size()) return;
  Thread& t = *threads_[thread];
  t.slow.add();
  SlowEntry entry;
  entry.id = next_id_.fetch_add(1, std::memory_order_relaxed);
  entry.unix_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  entry.micros = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(took).count());
  entry.peer = peer;
  entry.name = client_name;
  entry.argv = std::move(sample.argv);
  logLine(entry, sample);
  std::lock_guard lock(t.mutex);
  t.ring.push(std::move(entry));
}

void SlowLog::logLine(const SlowEntry& entry, const SlowSample& sample) {
  LineBudget::Verdict v;
  {
    std::lock_guard lock(budget_mutex_);
    v = budget_.admit(entry.unix_seconds);
  }
  if (v.suppressed > 0) {
    spdlog::warn(
        "slow log: {} more slow request(s) not logged (log.slow_log_lines_per_second); "
        "SLOWLOG GET lists them",
        v.suppressed);
  }
  if (!v.log) return;
  // The command and its first key, not every argument: values stay out of the log file.
  std::string what(entry.argv.empty() ? std::string_view("?") : std::string_view(entry.argv[0]));
  if (const std::string_view key = firstKey(*sample.spec, entry.argv); !key.empty()) {
    what += " key '" + std::string(key) + "'";
  }
  std::string client = entry.peer;
  if (!entry.name.empty()) client += ", name '" + entry.name + "'";
  spdlog::warn("slow request: {} took {}.{:03} ms (client {}, slow log id {})", what,
               entry.micros / 1000, entry.micros % 1000, client, entry.id);
}

std::vector<SlowEntry> SlowLog::newest(std::size_t count) const {
  // Each ring is copied under its lock, so a thread recording meanwhile waits only as
  // long as one copy.
  std::vector<SlowRing> copies;
  copies.reserve(threads_.size());
  for (const auto& t : threads_) {
    std::lock_guard lock(t->mutex);
    copies.push_back(t->ring);
  }
  std::vector<const SlowRing*> rings;
  for (const SlowRing& r : copies) rings.push_back(&r);
  return newestOf(rings, std::min(count, max_len_.load(std::memory_order_relaxed)));
}

std::size_t SlowLog::size() const {
  std::size_t n = 0;
  for (const auto& t : threads_) {
    std::lock_guard lock(t->mutex);
    n += t->ring.size();
  }
  return std::min(n, max_len_.load(std::memory_order_relaxed));
}

void SlowLog::reset() {
  for (const auto& t : threads_) {
    std::lock_guard lock(t->mutex);
    t->ring.clear();
  }
}

void SlowLog::collect(metrics::Sink& sink) const {
  std::uint64_t sum = 0;
  for (const auto& t : threads_) sum += t->slow.value();
  sink.add(kSlowRequests, static_cast<double>(sum));
}

}  // namespace readthru::server
