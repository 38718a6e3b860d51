#pragma once
// Clients reading and writing through readthru while a test changes the cluster's
// topology (tests/fault/cluster_*_test.cpp): every answer is checked, errors are counted
// in windows that start when the test marks a change, and a wrong value is never
// excused. Header-only, for the fault tests.
//
// A plain key's value must be the last SET acknowledged, or one whose answer was an error
// (it may have been applied with the answer lost); a managed key's value is the row
// PostgreSQL gives for it. Expected errors are -ERR (readthru's own, e.g. a node
// unreachable), -CLUSTERDOWN and -TRYAGAIN; any other kind, or an error before the first
// mark, counts as unexpected.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "cluster_admin.hpp"
#include "command/key_slot.hpp"
#include "readthru_process.hpp"

namespace readthru::testing {

inline long long ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// A hash tag ("{...}") with `prefix` whose key lands on `slot`.
inline std::string tagFor(const std::string& prefix, std::int64_t slot) {
  for (int i = 0;; ++i) {
    const std::string tag = "{" + prefix + "-" + std::to_string(i) + "}";
    if (command::keyHashSlot(tag) == slot) return tag;
  }
}

// The keys of a test, named after `prefix` (unique to the test run): kKeysPerSlot plain
// and managed ones in each slot of [first_slot, first_slot + slots).
struct KeySet {
  static constexpr int kKeysPerSlot = 4;
  std::vector<std::string> plain, managed, rows;
  std::vector<std::int64_t> slots;

  KeySet(const std::string& prefix, std::int64_t first_slot, int count) {
    for (std::int64_t s = first_slot; s < first_slot + count; ++s) {
      slots.push_back(s);
      const std::string tag = tagFor(prefix, s);
      for (int i = 0; i < kKeysPerSlot; ++i) {
        plain.push_back(prefix + ":p:" + tag + ":" + std::to_string(i));
        managed.push_back(prefix + ":m:" + tag + ":" + std::to_string(i));
        rows.push_back("row-" + tag + "-" + std::to_string(i));
      }
    }
  }
};

// readthru's config sections for a KeySet of `prefix`: its managed keys load
// "row-<tag>-<id>" from the stack's PostgreSQL.
inline std::string loadSections(const std::string& prefix) {
  return "postgres:\n  dsn: \"host=127.0.0.1 port=55432 dbname=app user=app\"\nkeyspaces:\n" +
         keyspaceRule("m", prefix + ":m:<tag>:<id>", "SELECT 'row-' || $1 || '-' || $2 AS v",
                      "    params: [tag, id]\n    format: value\n    ttl: 120s\n");
}

// Readers and writers over a KeySet: each writer SETs its share of the plain keys to
// fresh values and reads them back, and reads every managed key. Every answer is checked.
class Load {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr int kWriters = 3;

  Load(std::uint16_t port, const KeySet& keys) : port_(port), keys_(keys) {
    accepted_.resize(keys.plain.size());
    for (std::size_t i = 0; i < keys.plain.size(); ++i) accepted_[i] = {"start"};
    Client c(port);
    for (const auto& k : keys.plain) expectOk(c.call({"SET", k, "start"}), "SET " + k);
    for (std::size_t i = 0; i < keys.managed.size(); ++i) {
      if (show(c.call({"GET", keys.managed[i]})) != keys.rows[i]) {
        throw std::runtime_error("managed " + keys.managed[i] + " did not load");
      }
    }
    for (int w = 0; w < kWriters; ++w) threads_.emplace_back([this, w] { run(w); });
  }
  ~Load() { stop(); }

  void stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  long long commands() {
    std::lock_guard lock(mutex_);
    return commands_;
  }
  // Marks the start of a change: errors are reported relative to it.
  void mark(const std::string& what) {
    std::lock_guard lock(mutex_);
    windows_.push_back({what, Clock::now(), {}, {}, 0, false});
  }
  // Marks the change as over (every value right again): an error from now until the next
  // mark is unexpected.
  void settle() {
    std::lock_guard lock(mutex_);
    if (!windows_.empty()) windows_.back().settled = true;
  }
  // One pass over every key from a client of its own: true when every answer is right.
  bool cleanPass() {
    try {
      Client c(port_);
      for (std::size_t i = 0; i < keys_.managed.size(); ++i) {
        if (show(c.call({"GET", keys_.managed[i]})) != keys_.rows[i]) return false;
      }
      for (std::size_t i = 0; i < keys_.plain.size(); ++i) {
        const std::string got = show(c.call({"GET", keys_.plain[i]}));
        std::lock_guard lock(mutex_);
        if (!accepted_[i].contains(got)) return false;
      }
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }

  struct Window {
    std::string what;
    Clock::time_point start, first_error, last_error;
    long long errors;
    bool settled;
  };
  long long wrong() {
    std::lock_guard lock(mutex_);
    return wrong_;
  }
  long long unexpectedErrors() {
    std::lock_guard lock(mutex_);
    return unexpected_;
  }
  void report(std::ostream& out) {
    std::lock_guard lock(mutex_);
    out << commands_ << " commands, " << errors_ << " errors, " << wrong_ << " wrong values\n";
    for (const auto& w : windows_) {
      out << "  " << w.what << ": " << w.errors << " errors";
      if (w.errors > 0) {
        out << " from " << ms(w.first_error - w.start) << " to " << ms(w.last_error - w.start)
            << " ms after it began";
      }
      out << "\n";
    }
    for (const auto& [kind, n] : kinds_) out << "  " << n << " x " << kind << "\n";
    for (const auto& s : samples_) out << "  sample: " << s << "\n";
  }
  // The longest error window (first to last error of one change).
  Clock::duration longestWindow() {
    std::lock_guard lock(mutex_);
    Clock::duration longest{};
    for (const auto& w : windows_) {
      if (w.errors > 0) longest = std::max(longest, w.last_error - w.first_error);
    }
    return longest;
  }

 private:
  void run(int w) {
    try {
      Client c(port_);
      for (long long n = 0; !stop_.load(); ++n) {
        for (std::size_t i = w; i < keys_.plain.size(); i += kWriters) {
          const std::string value = std::to_string(w) + ":" + std::to_string(n);
          const std::string set = show(c.call({"SET", keys_.plain[i], value}));
          {
            std::lock_guard lock(mutex_);
            if (set == "OK") {
              accepted_[i] = {value};
            } else {
              accepted_[i].insert(value);  // failed, or applied with the answer lost
            }
          }
          check(set == "OK" ? "" : set);
          const std::string got = show(c.call({"GET", keys_.plain[i]}));
          std::lock_guard lock(mutex_);
          if (!accepted_[i].contains(got)) checkLocked(got, keys_.plain[i]);
          ++commands_;
        }
        for (std::size_t i = w; i < keys_.managed.size(); i += kWriters) {
          const std::string got = show(c.call({"GET", keys_.managed[i]}));
          std::lock_guard lock(mutex_);
          if (got != keys_.rows[i]) checkLocked(got, keys_.managed[i]);
          ++commands_;
        }
      }
    } catch (const std::exception& e) {
      std::lock_guard lock(mutex_);
      ++unexpected_;
      samples_.push_back(std::string("client: ") + e.what());
    }
  }
  void check(const std::string& error) {
    if (error.empty()) return;
    std::lock_guard lock(mutex_);
    checkLocked(error, "SET");
  }
  // `got` was not an accepted answer: an error (counted in the current window), or wrong.
  void checkLocked(const std::string& got, const std::string& key) {
    if (got.rfind("(error) ", 0) != 0) {
      ++wrong_;
      if (samples_.size() < 5) samples_.push_back(key + " -> " + got);
      return;
    }
    ++errors_;
    const std::string kind = got.substr(0, got.find(' ', 8));
    ++kinds_[kind];
    const bool expected =
        kind == "(error) ERR" || kind == "(error) CLUSTERDOWN" || kind == "(error) TRYAGAIN";
    const bool outside = windows_.empty() || windows_.back().settled;
    if (!expected || outside) {
      ++unexpected_;  // an unknown kind, or before any change, or after it was over
      if (samples_.size() < 5) samples_.push_back("unexpected: " + key + " -> " + got);
    }
    if (outside) return;
    auto& w = windows_.back();
    const auto now = Clock::now();
    if (w.errors++ == 0) w.first_error = now;
    w.last_error = now;
  }

  std::uint16_t port_;
  const KeySet& keys_;
  std::mutex mutex_;
  std::vector<std::set<std::string>> accepted_;  // guarded by mutex_
  long long commands_ = 0, errors_ = 0, wrong_ = 0, unexpected_ = 0;
  std::map<std::string, long long> kinds_;
  std::vector<Window> windows_;
  std::vector<std::string> samples_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

inline void deleteKeys(std::uint16_t port, const KeySet& keys) {
  Client c(port);
  for (const auto& k : keys.plain) c.call({"DEL", k});
  for (const auto& k : keys.managed) c.call({"DEL", k});
}

}  // namespace readthru::testing
