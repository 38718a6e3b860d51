// A keyspace's `warm:` entry (see docs/configuration.md#warming-a-keyspace).

#include "config/reader.hpp"

namespace readthru::config {
namespace {

// The batcher's largest batch (cache/load_batcher.hpp): a bigger warm batch would be
// split by it anyway.
constexpr int kMaxBatch = 1000;

// "5000/s" or a bare "5000": keys per second.
int rate(const Reader& r, const YAML::Node& node, const std::string& key) {
  std::string text = r.scalar(node, key);
  if (text.ends_with("/s")) text.resize(text.size() - 2);
  int v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || p != text.data() + text.size() || v < 1 || v > 10'000'000) {
    r.fail(node, key, "must be keys per second such as 5000/s (1 to 10000000)");
  }
  return v;
}

}  // namespace

void readWarm(const Reader& r, const YAML::Node& keyspace, const std::string& key,
              KeyspaceConfig& ks) {
  if (auto n = keyspace["warm"]) {
    const std::string wkey = key + ".warm";
    r.requireMap(n, wkey);
    r.allowOnly(n, wkey, {"query", "on_start", "rate", "batch"});
    WarmConfig w;
    if (!n["query"]) r.fail(n, wkey + ".query", "is required");
    w.query = r.scalar(n["query"], wkey + ".query");
    if (w.query.empty()) r.fail(n["query"], wkey + ".query", "is empty");
    if (auto v = n["on_start"]) w.on_start = r.boolean(v, wkey + ".on_start");
    if (auto v = n["rate"]) w.rate = rate(r, v, wkey + ".rate");
    if (auto v = n["batch"]) {
      w.batch = static_cast<int>(r.integer(v, wkey + ".batch", 1, kMaxBatch));
    }
    ks.warm = std::move(w);
  }
  if (auto n = keyspace["ready_after_warm"]) {
    ks.ready_after_warm = r.boolean(n, key + ".ready_after_warm");
    if (ks.ready_after_warm && (!ks.warm || !ks.warm->on_start)) {
      r.fail(n, key + ".ready_after_warm", "needs warm.on_start: true (nothing else warms first)");
    }
  }
}

}  // namespace readthru::config
