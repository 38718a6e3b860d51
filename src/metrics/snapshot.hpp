#pragma once
// Every metric's value at one moment, summed over the threads and objects that count it:
// what both renderers (Prometheus text, INFO lines) print. Built by Registry::snapshot():
// each Source adds its samples through a Sink; samples of one family and label set are
// summed.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "metrics/cells.hpp"
#include "metrics/family.hpp"

namespace readthru::metrics {

struct Series {
  Labels labels;
  double value = 0;           // counters and gauges
  HistogramCounts histogram;  // histograms
};

struct FamilySamples {
  const Family* family = nullptr;
  std::vector<Series> series;  // in the order first added
};

class Snapshot {
 public:
  // In the order families were first added.
  const std::vector<FamilySamples>& families() const { return families_; }
  // The family of this Prometheus name, or nullptr.
  const FamilySamples* find(std::string_view name) const;
  // A family's value summed over all its series (0 when absent).
  double total(std::string_view name) const;
  // A family's value for one label value (0 when absent).
  double value(std::string_view name, const Label& label) const;
  // The value INFO shows under this name (a family's info name), or nullopt.
  std::optional<double> info(std::string_view info_name) const;

 private:
  friend class Sink;
  Series& series(const Family& f, Labels labels);

  std::vector<FamilySamples> families_;
  std::map<std::string, std::size_t, std::less<>> family_index_;
  std::map<std::string, std::size_t, std::less<>> series_index_;  // family + labels -> index
};

// Where a Source puts its samples.
class Sink {
 public:
  explicit Sink(Snapshot& out) : out_(out) {}
  void add(const Family& f, double v, Labels labels = {}) {
    out_.series(f, std::move(labels)).value += v;
  }
  void add(const Family& f, const Counter& c, Labels labels = {}) {
    add(f, static_cast<double>(c.value()), std::move(labels));
  }
  void add(const Family& f, const Gauge& g, Labels labels = {}) {
    add(f, static_cast<double>(g.value()), std::move(labels));
  }
  void add(const Family& f, const Histogram& h, Labels labels = {}) {
    out_.series(f, std::move(labels)).histogram.addFrom(h.counts());
  }
  // Everything in `other` (what a source counted before it went).
  void add(const Snapshot& other) {
    for (const FamilySamples& f : other.families()) {
      for (const Series& s : f.series) {
        Series& into = out_.series(*f.family, s.labels);
        into.value += s.value;
        into.histogram.addFrom(s.histogram);
      }
    }
  }

 private:
  Snapshot& out_;
};

// What one source holds now (tests, and folding a source's counts in before it goes).
class Source;
Snapshot snapshotOf(const Source& source);

// Anything that counts: it adds its cells' values to a snapshot. collect() may run on any
// thread, concurrently with the owner counting; it only reads cells (or takes the owner's
// own lock for state that is not in cells).
class Source {
 public:
  virtual ~Source() = default;
  virtual void collect(Sink& sink) const = 0;
};

}  // namespace readthru::metrics
