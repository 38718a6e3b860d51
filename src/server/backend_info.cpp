#include "server/backend_info.hpp"

#include <charconv>

namespace readthru::server {
namespace {

std::uint64_t number(const std::map<std::string, std::string, std::less<>>& f,
                     std::string_view key) {
  auto it = f.find(key);
  if (it == f.end()) return 0;
  std::uint64_t v = 0;
  std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  return v;
}

// "keys=3,expires=1,avg_ttl=100" -> the value of `name`.
std::uint64_t subField(std::string_view text, std::string_view name) {
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find(',', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view item = text.substr(at, end - at);
    if (item.starts_with(name) && item.size() > name.size() && item[name.size()] == '=') {
      std::uint64_t v = 0;
      const auto digits = item.substr(name.size() + 1);
      std::from_chars(digits.data(), digits.data() + digits.size(), v);
      return v;
    }
    at = end + 1;
  }
  return 0;
}

}  // namespace

std::map<std::string, std::string, std::less<>> parseInfoLines(std::string_view text) {
  std::map<std::string, std::string, std::less<>> out;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    at = end + 1;
    if (line.empty() || line.front() == '#') continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    out.emplace(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
  }
  return out;
}

BackendTotals sumBackendInfo(const std::vector<cache::NodeReply>& replies) {
  BackendTotals t;
  double ttl_weight = 0;
  for (const cache::NodeReply& r : replies) {
    if (r.reply.type != resp::Type::kBulk) {
      ++t.nodes_failed;
      continue;
    }
    ++t.nodes;
    const auto f = parseInfoLines(r.reply.str);
    t.keyspace_hits += number(f, "keyspace_hits");
    t.keyspace_misses += number(f, "keyspace_misses");
    if (r.replica) continue;
    t.used_memory += number(f, "used_memory");
    t.used_memory_peak += number(f, "used_memory_peak");
    t.used_memory_rss += number(f, "used_memory_rss");
    t.maxmemory += number(f, "maxmemory");
    t.expired_keys += number(f, "expired_keys");
    t.evicted_keys += number(f, "evicted_keys");
    if (auto it = f.find("maxmemory_policy"); it != f.end()) {
      if (t.maxmemory_policy.empty()) {
        t.maxmemory_policy = it->second;
      } else if (t.maxmemory_policy != it->second) {
        t.maxmemory_policy = "mixed";
      }
    }
    if (auto it = f.find("db0"); it != f.end()) {
      t.keys += subField(it->second, "keys");
      const std::uint64_t expires = subField(it->second, "expires");
      t.expires += expires;
      ttl_weight +=
          static_cast<double>(subField(it->second, "avg_ttl")) * static_cast<double>(expires);
    }
  }
  if (t.expires > 0)
    t.avg_ttl = static_cast<std::uint64_t>(ttl_weight / static_cast<double>(t.expires));
  return t;
}

void BackendInfoCache::get(std::function<void(const BackendTotals&)> done) {
  if (have_ && std::chrono::steady_clock::now() - fetched_ < kFresh) {
    done(totals_);
    return;
  }
  waiting_.push_back(std::move(done));
  if (waiting_.size() > 1) return;  // a fetch is out
  cache::askEveryNode(backend_, {"INFO", "memory", "stats", "keyspace"}, /*replicas=*/true,
                      [this](std::vector<cache::NodeReply> replies) {
                        totals_ = sumBackendInfo(replies);
                        fetched_ = std::chrono::steady_clock::now();
                        have_ = true;
                        auto waiting = std::move(waiting_);
                        waiting_.clear();
                        for (auto& w : waiting) w(totals_);
                      });
}

}  // namespace readthru::server
