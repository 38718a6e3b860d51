#include "metrics/render.hpp"

#include <cmath>
#include <cstdio>

namespace readthru::metrics {
namespace {

std::string_view typeName(Kind k) {
  switch (k) {
    case Kind::kCounter:
      return "counter";
    case Kind::kGauge:
      return "gauge";
    case Kind::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// Label values may hold any byte; the format escapes backslash, quote and newline.
void appendLabelValue(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
}

// HELP text escapes backslash and newline only.
void appendHelp(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
}

void appendLabels(std::string& out, const Labels& labels, std::string_view le = {}) {
  if (labels.empty() && le.empty()) return;
  out.push_back('{');
  bool first = true;
  for (const Label& l : labels) {
    if (!first) out.push_back(',');
    first = false;
    out.append(l.name);
    out += "=\"";
    appendLabelValue(out, l.value);
    out.push_back('"');
  }
  if (!le.empty()) {
    if (!first) out.push_back(',');
    out += "le=\"";
    out.append(le);
    out.push_back('"');
  }
  out.push_back('}');
}

std::string seconds(std::uint64_t nanos) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(nanos) / 1e9);
  return buf;
}

void appendHistogram(std::string& out, std::string_view name, const Series& s) {
  std::uint64_t cumulative = 0;
  for (int i = 0; i < kBuckets; ++i) {
    cumulative += s.histogram.buckets[i];
    out.append(name);
    out += "_bucket";
    const std::string le =
        i < kFiniteBuckets ? seconds(static_cast<std::uint64_t>(bucketBoundNanos(i))) : "+Inf";
    appendLabels(out, s.labels, le);
    out.push_back(' ');
    out += std::to_string(cumulative);
    out.push_back('\n');
  }
  out.append(name);
  out += "_sum";
  appendLabels(out, s.labels);
  out.push_back(' ');
  out += seconds(s.histogram.sum_nanos);
  out.push_back('\n');
  out.append(name);
  out += "_count";
  appendLabels(out, s.labels);
  out.push_back(' ');
  out += std::to_string(s.histogram.count);
  out.push_back('\n');
}

}  // namespace

std::string formatNumber(double v) {
  if (std::isfinite(v) && v == std::trunc(v) && std::fabs(v) < 9.0e15) {
    return std::to_string(static_cast<long long>(v));
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string renderPrometheus(const Snapshot& snap) {
  std::string out;
  for (const FamilySamples& f : snap.families()) {
    out += "# HELP ";
    out.append(f.family->name);
    out.push_back(' ');
    appendHelp(out, f.family->help);
    out += "\n# TYPE ";
    out.append(f.family->name);
    out.push_back(' ');
    out.append(typeName(f.family->kind));
    out.push_back('\n');
    for (const Series& s : f.series) {
      if (f.family->kind == Kind::kHistogram) {
        appendHistogram(out, f.family->name, s);
        continue;
      }
      out.append(f.family->name);
      appendLabels(out, s.labels);
      out.push_back(' ');
      out += formatNumber(s.value);
      out.push_back('\n');
    }
  }
  return out;
}

std::string renderInfo(const Snapshot& snap) {
  std::string out;
  for (const FamilySamples& f : snap.families()) {
    if (f.family->info.empty() || f.family->kind == Kind::kHistogram) continue;
    if (f.family->info_by_label) {
      for (const Series& s : f.series) {
        out.append(f.family->info);
        if (!s.labels.empty()) {
          out.push_back('_');
          out.append(s.labels.front().value);
        }
        out.push_back(':');
        out += formatNumber(infoValue(s.value, *f.family));
        out += "\r\n";
      }
      continue;
    }
    out.append(f.family->info);
    out.push_back(':');
    out += formatNumber(infoValue(snap.total(f.family->name), *f.family));
    out += "\r\n";
  }
  return out;
}

std::string renderInfoFor(const Snapshot& snap, const Label& label) {
  std::string out;
  for (const FamilySamples& f : snap.families()) {
    if (f.family->info.empty() || f.family->kind == Kind::kHistogram) continue;
    bool has = false;
    for (const Series& s : f.series) {
      for (const Label& l : s.labels) has = has || l == label;
    }
    if (!has) continue;
    out.append(f.family->info);
    out.push_back(':');
    out += formatNumber(infoValue(snap.value(f.family->name, label), *f.family));
    out += "\r\n";
  }
  return out;
}

}  // namespace readthru::metrics
