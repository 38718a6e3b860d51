#pragma once
// What a metric is: its name, kind, help text and label names, declared once as a
// constant next to the code that counts it. The Prometheus name follows Prometheus's
// conventions (readthru_ prefix, _total for counters, base units); `info` is the name INFO
// shows the family under, summed over its labels ("" = not in INFO).

#include <string>
#include <string_view>
#include <vector>

namespace readthru::metrics {

enum class Kind { kCounter, kGauge, kHistogram };

struct Family {
  std::string_view name;
  Kind kind;
  std::string_view help;
  std::string_view info = {};
};

struct Label {
  std::string_view name;
  std::string value;
  bool operator==(const Label&) const = default;
};
using Labels = std::vector<Label>;

}  // namespace readthru::metrics
