#pragma once
// What a metric is: its name, kind, help text and label names, declared once as a
// constant next to the code that counts it. The Prometheus name follows Prometheus's
// conventions (readthru_ prefix, _total for counters, base units); `info` is the name INFO
// shows the family under, summed over its labels ("" = not in INFO), or with
// `info_by_label` one line per series, named info + "_" + its first label's value
// ("backend_failed_timeout").

#include <cmath>
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
  bool info_by_label = false;
  // INFO shows value × info_scale, so that a family in base units keeps the unit INFO
  // always had (seconds in Prometheus, milliseconds in INFO: 1000).
  double info_scale = 1;
};

// The value INFO shows for `v` of family `f`: scaled values are rounded (INFO's
// milliseconds are whole). Both INFO's renderer and Snapshot::info() use it.
inline double infoValue(double v, const Family& f) {
  return f.info_scale == 1 ? v : std::round(v * f.info_scale);
}

struct Label {
  std::string_view name;
  std::string value;
  bool operator==(const Label&) const = default;
};
using Labels = std::vector<Label>;

}  // namespace readthru::metrics
