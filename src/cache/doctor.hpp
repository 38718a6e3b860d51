#pragma once
// The cache-health doctor's judgement: what each Redis node said of its memory settings
// and use (facts), turned into findings an operator can act on, one line each, like
// Redis's own MEMORY DOCTOR. Pure: facts in, findings out. The asking is doctor_probe's.
//
// Why these rules: readthru fills keys with SET ... PX, so a node that refuses writes when
// full (noeviction), that has no limit at all (maxmemory 0: the host's memory is the
// limit), or that evicts only keys with a TTL while some keys have none, turns a full
// cache into failed fills instead of evictions.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "resp/value.hpp"

namespace readthru::cache {

// What one node answered. A field the node did not give stays empty, and is not judged.
struct NodeFacts {
  std::string address;  // "host:port"
  bool replica = false;
  std::string error;  // non-empty: the node did not answer (timeout, refused, down)
  std::optional<std::int64_t> maxmemory;
  std::string policy;  // maxmemory-policy
  std::optional<std::int64_t> samples;
  std::optional<double> fragmentation;  // INFO memory: mem_fragmentation_ratio
  std::optional<std::int64_t> used_memory;
  std::optional<std::int64_t> evicted_keys, expired_keys;  // INFO stats
  std::string memory_doctor;                               // the node's own MEMORY DOCTOR text
};

// The counters of the previous run, by address, for the trend of evictions.
struct Counts {
  std::int64_t evicted = 0, expired = 0;
};
using CountHistory = std::map<std::string, Counts, std::less<>>;

// A keyspace's TTL as configured (0: its keys never expire).
struct KeyspaceTtl {
  std::string name;
  std::int64_t ttl_ms = 0;
};

enum class Severity : std::uint8_t { kOk, kWarn };
std::string_view severityName(Severity s);

struct Finding {
  Severity severity = Severity::kOk;
  std::string node;  // address, or "" for a finding about the whole backend
  std::string text;
};

// Every finding for `nodes`, in node order, each node's rules in a fixed order. A node
// that did not answer has one warn finding and no others. `previous` (may be empty) gives
// the evicted/expired trend.
std::vector<Finding> judge(const std::vector<NodeFacts>& nodes,
                           const std::vector<KeyspaceTtl>& keyspaces, const CountHistory& previous);

// The counters of this run, to pass as `previous` next time.
CountHistory countsOf(const std::vector<NodeFacts>& nodes);

// The report READTHRU.DOCTOR answers: a summary line, then one line per finding
// ("[warn] 127.0.0.1:7000: ..."), then each node's MEMORY DOCTOR text, indented.
std::string renderReport(const std::vector<Finding>& findings, const std::vector<NodeFacts>& nodes);

// --- reading the node's answers (pure, so they are unit-tested with real replies)

// "field:value" lines of an INFO reply (CRLF or LF, "# Section" lines skipped).
std::map<std::string, std::string, std::less<>> parseInfo(std::string_view text);
// The value of a CONFIG GET <name> reply (["name", "value"]), or nullopt.
std::optional<std::string> configValue(const resp::Value& reply);
// Fills `facts` from each answer; an error reply sets facts.error when it is the first.
void readConfig(NodeFacts& facts, std::string_view name, const resp::Value& reply);
void readInfo(NodeFacts& facts, const resp::Value& reply);
void readMemoryDoctor(NodeFacts& facts, const resp::Value& reply);

}  // namespace readthru::cache
