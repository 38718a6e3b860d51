#pragma once
// At most N log lines per second of one kind, and a count of those held back: the next
// line let through after a second that dropped some is preceded by one that says how
// many. Pure: the caller passes the time (whole seconds) and holds any lock needed.

#include <cstdint>

namespace readthru {

class LineBudget {
 public:
  explicit LineBudget(std::uint32_t per_second = 10) : per_second_(per_second) {}

  void setPerSecond(std::uint32_t n) { per_second_ = n; }

  struct Verdict {
    bool log = false;              // log this line
    std::uint64_t suppressed = 0;  // before it, say that this many were held back
  };

  // A line wants out during second `now`.
  Verdict admit(std::int64_t now) {
    if (now != second_) {
      second_ = now;
      used_ = 0;
    }
    if (used_ >= per_second_) {
      ++suppressed_;
      return {};
    }
    ++used_;
    Verdict v{true, suppressed_};
    suppressed_ = 0;
    return v;
  }

 private:
  std::uint32_t per_second_;
  std::int64_t second_ = -1;
  std::uint32_t used_ = 0;
  std::uint64_t suppressed_ = 0;  // since the last line let through
};

}  // namespace readthru
