#include "common/fault.hpp"

namespace readthru {
namespace {

struct FaultInfo {
  Fault fault;
  std::string_view name;
  std::string_view what;  // the predicate of the client-visible sentence
};

// One row per fault: its counter name and the words a client sees.
constexpr FaultInfo kFaults[] = {
    {Fault::kNone, "none", "succeeded"},
    {Fault::kUnreachable, "unreachable", "is unreachable"},
    {Fault::kConnectionLost, "connection_lost", "connection lost"},
    {Fault::kTimeout, "timeout", "timed out"},
    {Fault::kBreakerOpen, "breaker_open", "is failing: circuit breaker open"},
    {Fault::kQueueFull, "queue_full", "has too many requests queued"},
    {Fault::kNoNode, "no_node", ""},
    {Fault::kShuttingDown, "shutting_down", "is shutting down"},
    {Fault::kDeadline, "deadline", "timed out"},
    {Fault::kDatabaseDown, "database_down", "database unreachable"},
    {Fault::kStatementTimeout, "statement_timeout", "statement timeout"},
    {Fault::kLoadQueueFull, "load_queue_full", "too many loads waiting"},
    {Fault::kNotPrepared, "not_prepared", "statement not prepared"},
    {Fault::kLoaderStopped, "loader_stopped", "loader stopped"},
};

const FaultInfo& info(Fault f) {
  for (const FaultInfo& i : kFaults) {
    if (i.fault == f) return i;
  }
  return kFaults[0];
}

class FaultCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "readthru"; }
  std::string message(int value) const override {
    return std::string(info(static_cast<Fault>(value)).what);
  }
};

}  // namespace

const std::error_category& faultCategory() {
  static const FaultCategory category;
  return category;
}

Fault faultOf(const std::error_code& code) {
  if (!code || code.category() != faultCategory()) return Fault::kNone;
  return static_cast<Fault>(code.value());
}

std::string_view faultName(Fault f) { return info(f).name; }

bool isCacheDown(Fault f) {
  switch (f) {
    case Fault::kUnreachable:
    case Fault::kConnectionLost:
    case Fault::kTimeout:
    case Fault::kBreakerOpen:
    case Fault::kQueueFull:
    case Fault::kNoNode:
      return true;
    default:
      return false;
  }
}

bool isDatabaseDown(Fault f) {
  switch (f) {
    case Fault::kDatabaseDown:
    case Fault::kStatementTimeout:
    case Fault::kLoadQueueFull:
    case Fault::kNotPrepared:
    case Fault::kLoaderStopped:
      return true;
    default:
      return false;
  }
}

std::string faultText(Fault f, std::string_view subject, std::string_view detail) {
  std::string text = f == Fault::kNoNode ? "CLUSTERDOWN readthru: " : "ERR readthru: ";
  text.append(subject);
  const std::string_view what = info(f).what;
  if (!subject.empty() && !what.empty()) text += ' ';
  text.append(what);
  if (!detail.empty()) {
    text += " (";
    text.append(detail);
    text += ')';
  }
  return text;
}

}  // namespace readthru
