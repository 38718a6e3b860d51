#include "metrics/snapshot.hpp"

#include <cmath>

namespace readthru::metrics {
namespace {

// A unique text for a family and label set: the map key that sums samples of one series.
std::string seriesKey(std::string_view family, const Labels& labels) {
  std::string key(family);
  for (const Label& l : labels) {
    key.push_back('\0');
    key.append(l.name);
    key.push_back('\0');
    key.append(l.value);
  }
  return key;
}

}  // namespace

Series& Snapshot::series(const Family& f, Labels labels) {
  auto fam = family_index_.find(f.name);
  if (fam == family_index_.end()) {
    fam = family_index_.emplace(std::string(f.name), families_.size()).first;
    families_.push_back({&f, {}});
  }
  FamilySamples& samples = families_[fam->second];
  std::string key = seriesKey(f.name, labels);
  auto it = series_index_.find(key);
  if (it == series_index_.end()) {
    it = series_index_.emplace(std::move(key), samples.series.size()).first;
    samples.series.push_back({std::move(labels), 0, {}});
  }
  return samples.series[it->second];
}

const FamilySamples* Snapshot::find(std::string_view name) const {
  auto it = family_index_.find(name);
  return it == family_index_.end() ? nullptr : &families_[it->second];
}

double Snapshot::total(std::string_view name) const {
  const FamilySamples* f = find(name);
  double sum = 0;
  if (f != nullptr) {
    for (const Series& s : f->series) sum += s.value;
  }
  return sum;
}

double Snapshot::value(std::string_view name, const Label& label) const {
  const FamilySamples* f = find(name);
  double sum = 0;
  if (f == nullptr) return sum;
  for (const Series& s : f->series) {
    for (const Label& l : s.labels) {
      if (l == label) sum += s.value;
    }
  }
  return sum;
}

std::optional<double> Snapshot::info(std::string_view info_name) const {
  for (const FamilySamples& f : families_) {
    if (f.family->info == info_name && !f.family->info_by_label) {
      return infoValue(total(f.family->name), *f.family);
    }
    if (!f.family->info_by_label || !info_name.starts_with(f.family->info)) continue;
    for (const Series& s : f.series) {
      if (!s.labels.empty() &&
          info_name == std::string(f.family->info) + "_" + s.labels.front().value) {
        return infoValue(s.value, *f.family);
      }
    }
  }
  return std::nullopt;
}

Snapshot snapshotOf(const Source& source) {
  Snapshot out;
  Sink sink(out);
  source.collect(sink);
  return out;
}

}  // namespace readthru::metrics
