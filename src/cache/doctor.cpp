#include "cache/doctor.hpp"

#include <charconv>
#include <cstdio>
#include <functional>

namespace readthru::cache {
namespace {

// Redis's own advice: fewer samples make LRU/LFU eviction noticeably worse than the
// default 5 (redis.conf, "maxmemory-samples").
constexpr std::int64_t kMinSamples = 5;
// Above this the allocator holds much more than the data needs; below 1 the OS has
// swapped part of Redis out (INFO's own interpretation in the Redis docs).
constexpr double kMaxFragmentation = 1.5;
constexpr double kMinFragmentation = 1.0;
// Tiny instances report wild ratios (a few MB of RSS over a few hundred KB of data), so
// fragmentation is only judged once the data is this big, as Redis's MEMORY DOCTOR does.
constexpr std::int64_t kFragmentationMinUsed = 5 * 1024 * 1024;

struct Context {
  const std::vector<KeyspaceTtl>& keyspaces;
  const CountHistory& previous;
};
using Findings = std::vector<Finding>;
using Rule = void (*)(const NodeFacts&, const Context&, Findings&);

void add(Findings& out, const NodeFacts& n, Severity s, std::string text) {
  out.push_back({s, n.address, std::move(text)});
}

std::string mb(std::int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

void maxmemoryRule(const NodeFacts& n, const Context&, Findings& out) {
  if (!n.maxmemory) return;
  if (*n.maxmemory == 0) {
    add(out, n, Severity::kWarn,
        "maxmemory 0: no memory limit, so the node grows until the host runs out (set "
        "maxmemory so that Redis evicts instead)");
  } else {
    add(out, n, Severity::kOk, "maxmemory " + mb(*n.maxmemory));
  }
}

void policyRule(const NodeFacts& n, const Context& ctx, Findings& out) {
  if (n.policy.empty()) return;
  const std::string& p = n.policy;
  if (p == "noeviction") {
    add(out, n, Severity::kWarn,
        "maxmemory-policy noeviction: once full, writes fail with OOM, and so do readthru's "
        "fills (use allkeys-lfu)");
    return;
  }
  if (p.starts_with("volatile-")) {
    std::string names;
    for (const KeyspaceTtl& ks : ctx.keyspaces) {
      if (ks.ttl_ms > 0) continue;
      names += (names.empty() ? "" : ", ") + ks.name;
    }
    if (!names.empty()) {
      add(out, n, Severity::kWarn,
          "maxmemory-policy " + p + " evicts only keys with a TTL, and keyspaces " + names +
              " store keys without one");
      return;
    }
    add(out, n, Severity::kOk,
        "maxmemory-policy " + p +
            ": every keyspace has a TTL (keys written without one by clients are never evicted)");
    return;
  }
  if (p == "allkeys-lru" || p == "allkeys-random") {
    add(out, n, Severity::kOk,
        "maxmemory-policy " + p +
            " works; allkeys-lfu keeps hot keys better under skewed read traffic");
    return;
  }
  add(out, n, Severity::kOk, "maxmemory-policy " + p);
}

void samplesRule(const NodeFacts& n, const Context&, Findings& out) {
  if (!n.samples) return;
  if (*n.samples < kMinSamples) {
    add(out, n, Severity::kWarn,
        "maxmemory-samples " + std::to_string(*n.samples) +
            ": below 5, eviction picks poor victims (5 is Redis's default, 10 is closer to "
            "true LRU/LFU)");
  } else {
    add(out, n, Severity::kOk, "maxmemory-samples " + std::to_string(*n.samples));
  }
}

void fragmentationRule(const NodeFacts& n, const Context&, Findings& out) {
  if (!n.fragmentation) return;
  char ratio[32];
  std::snprintf(ratio, sizeof ratio, "%.2f", *n.fragmentation);
  if (n.used_memory && *n.used_memory < kFragmentationMinUsed) {
    add(out, n, Severity::kOk,
        std::string("mem_fragmentation_ratio ") + ratio + " (not judged: used_memory " +
            mb(*n.used_memory) + " is too small for the ratio to mean anything)");
    return;
  }
  if (*n.fragmentation > kMaxFragmentation) {
    add(out, n, Severity::kWarn,
        std::string("mem_fragmentation_ratio ") + ratio +
            ": above 1.5, the allocator holds much more memory than the data (consider "
            "activedefrag yes)");
  } else if (*n.fragmentation < kMinFragmentation) {
    add(out, n, Severity::kWarn,
        std::string("mem_fragmentation_ratio ") + ratio +
            ": below 1, part of Redis's memory is swapped out (latency risk)");
  } else {
    add(out, n, Severity::kOk, std::string("mem_fragmentation_ratio ") + ratio);
  }
}

void evictionRule(const NodeFacts& n, const Context& ctx, Findings& out) {
  if (!n.evicted_keys) return;
  const std::string totals = "evicted_keys " + std::to_string(*n.evicted_keys) + ", expired_keys " +
                             std::to_string(n.expired_keys.value_or(0));
  auto before = ctx.previous.find(n.address);
  if (before == ctx.previous.end()) {
    add(out, n, Severity::kOk, totals + " (trend from the next run on)");
    return;
  }
  const std::int64_t evicted = *n.evicted_keys - before->second.evicted;
  const std::int64_t expired = n.expired_keys.value_or(0) - before->second.expired;
  const std::string trend = "since the last run: +" + std::to_string(evicted) + " evicted, +" +
                            std::to_string(expired) + " expired";
  if (evicted > 0) {
    add(out, n, Severity::kWarn,
        "evictions growing, " + trend + ": the cache is full and drops keys before their TTL");
  } else {
    add(out, n, Severity::kOk, totals + ", " + trend);
  }
}

// In the order the report lists them for each node.
constexpr Rule kRules[] = {maxmemoryRule, policyRule, samplesRule, fragmentationRule, evictionRule};

std::int64_t toInt(std::string_view s, bool& ok) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  ok = ec == std::errc{} && p == s.data() + s.size();
  return v;
}

void setInt(std::optional<std::int64_t>& into, std::string_view text) {
  bool ok = false;
  const std::int64_t v = toInt(text, ok);
  if (ok) into = v;
}

void noteError(NodeFacts& facts, const resp::Value& reply, std::string_view what) {
  if (facts.error.empty()) facts.error = std::string(what) + ": " + reply.str;
}

}  // namespace

std::string_view severityName(Severity s) { return s == Severity::kWarn ? "warn" : "ok"; }

std::vector<Finding> judge(const std::vector<NodeFacts>& nodes,
                           const std::vector<KeyspaceTtl>& keyspaces,
                           const CountHistory& previous) {
  const Context ctx{keyspaces, previous};
  Findings out;
  for (const NodeFacts& n : nodes) {
    if (!n.error.empty()) {
      add(out, n, Severity::kWarn, "did not answer: " + n.error);
      continue;
    }
    for (Rule rule : kRules) rule(n, ctx, out);
  }
  if (nodes.empty()) {
    out.push_back({Severity::kWarn, "", "no Redis node known yet (no slot map)"});
  }
  return out;
}

CountHistory countsOf(const std::vector<NodeFacts>& nodes) {
  CountHistory out;
  for (const NodeFacts& n : nodes) {
    if (!n.error.empty() || !n.evicted_keys) continue;
    out[n.address] = {*n.evicted_keys, n.expired_keys.value_or(0)};
  }
  return out;
}

std::string renderReport(const std::vector<Finding>& findings,
                         const std::vector<NodeFacts>& nodes) {
  std::size_t warnings = 0;
  for (const Finding& f : findings) warnings += f.severity == Severity::kWarn ? 1 : 0;
  std::string out = "readthru doctor: " + std::to_string(nodes.size()) + " node(s), " +
                    std::to_string(warnings) + " warning(s)\n";
  for (const Finding& f : findings) {
    out += "[" + std::string(severityName(f.severity)) + "] ";
    if (!f.node.empty()) out += f.node + ": ";
    out += f.text + "\n";
  }
  for (const NodeFacts& n : nodes) {
    if (n.memory_doctor.empty()) continue;
    out += "MEMORY DOCTOR " + n.address + (n.replica ? " (replica)" : "") + ":\n";
    std::size_t start = 0;
    while (start < n.memory_doctor.size()) {
      std::size_t end = n.memory_doctor.find('\n', start);
      if (end == std::string::npos) end = n.memory_doctor.size();
      std::string_view line(n.memory_doctor.data() + start, end - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!line.empty()) out += "  " + std::string(line) + "\n";
      start = end + 1;
    }
  }
  return out;
}

std::map<std::string, std::string, std::less<>> parseInfo(std::string_view text) {
  std::map<std::string, std::string, std::less<>> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::size_t colon = line.find(':');
    if (!line.empty() && line.front() != '#' && colon != std::string_view::npos) {
      out.emplace(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
    }
    start = end + 1;
  }
  return out;
}

std::optional<std::string> configValue(const resp::Value& reply) {
  if (!reply.isArray() || reply.elements.size() < 2) return std::nullopt;
  return reply.elements[1].str;
}

void readConfig(NodeFacts& facts, std::string_view name, const resp::Value& reply) {
  if (reply.isError()) {
    noteError(facts, reply, "CONFIG GET " + std::string(name));
    return;
  }
  const std::optional<std::string> v = configValue(reply);
  if (!v) return;
  if (name == "maxmemory") {
    setInt(facts.maxmemory, *v);
  } else if (name == "maxmemory-policy") {
    facts.policy = *v;
  } else if (name == "maxmemory-samples") {
    setInt(facts.samples, *v);
  }
}

void readInfo(NodeFacts& facts, const resp::Value& reply) {
  if (reply.isError()) {
    noteError(facts, reply, "INFO");
    return;
  }
  const auto fields = parseInfo(reply.str);
  auto field = [&fields](std::string_view name) -> const std::string* {
    auto it = fields.find(name);
    return it == fields.end() ? nullptr : &it->second;
  };
  if (const std::string* v = field("mem_fragmentation_ratio")) {
    char* end = nullptr;
    const double d = std::strtod(v->c_str(), &end);
    if (end != v->c_str()) facts.fragmentation = d;
  }
  if (const std::string* v = field("used_memory")) setInt(facts.used_memory, *v);
  if (const std::string* v = field("evicted_keys")) setInt(facts.evicted_keys, *v);
  if (const std::string* v = field("expired_keys")) setInt(facts.expired_keys, *v);
}

void readMemoryDoctor(NodeFacts& facts, const resp::Value& reply) {
  // An error here (MEMORY refused by an ACL, say) is not worth hiding the rest for.
  facts.memory_doctor = reply.isError() ? "(MEMORY DOCTOR failed: " + reply.str + ")" : reply.str;
}

}  // namespace readthru::cache
