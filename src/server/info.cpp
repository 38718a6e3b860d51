#include "server/info.hpp"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>

#include "common/text.hpp"
#include "metrics/render.hpp"
#include "server/context.hpp"

namespace readthru::server {
namespace {

// Lines "key:value\r\n" into one section's text.
class Lines {
 public:
  explicit Lines(std::string& out) : out_(out) {}
  template <typename T>
  void operator()(std::string_view key, const T& value) {
    out_.append(key);
    out_.push_back(':');
    if constexpr (std::is_convertible_v<T, std::string_view>) {
      out_.append(std::string_view(value));
    } else {
      out_.append(std::to_string(value));
    }
    out_.append("\r\n");
  }

 private:
  std::string& out_;
};

std::uint64_t total(const InfoInputs& in, std::string_view family) {
  return static_cast<std::uint64_t>(in.snap.total(family));
}

void server(Lines& line, const InfoInputs& in) {
  const ServerContext& ctx = in.ctx;
  utsname un{};
  uname(&un);
  const auto now = std::chrono::system_clock::now();
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(now - ctx.started).count();
  line("redis_version", kRedisVersion);
  line("redis_git_sha1", "00000000");
  line("redis_git_dirty", 0);
  line("readthru_version", std::string_view(READTHRU_VERSION));
  line("redis_mode", "cluster");
  line("os", std::string(un.sysname) + " " + un.release + " " + un.machine);
  line("arch_bits", 64);
  line("multiplexing_api", "epoll");
  line("process_id", static_cast<long>(getpid()));
  line("process_supervised", "no");
  line("run_id", ctx.run_id);
  line("tcp_port", ctx.listen.port);
  line("server_time_usec",
       std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count());
  line("uptime_in_seconds", uptime);
  line("uptime_in_days", uptime / 86400);
  line("io_threads_active", ctx.listen.threads > 1 ? 1 : 0);
  line("config_file", ctx.config_path);
}

void clients(Lines& line, const InfoInputs& in) {
  line("connected_clients", in.ctx.connected_clients.load(std::memory_order_relaxed));
  line("cluster_connections", 0);
  line("maxclients", in.ctx.limits.max_clients.load(std::memory_order_relaxed));
  line("blocked_clients", 0);
  line("tracking_clients", 0);
}

void memory(Lines& line, const InfoInputs& in) {
  const BackendTotals& b = in.backend;
  line("used_memory", b.used_memory);
  line("used_memory_human", bytesToHuman(b.used_memory));
  line("used_memory_rss", b.used_memory_rss);
  line("used_memory_rss_human", bytesToHuman(b.used_memory_rss));
  line("used_memory_peak", b.used_memory_peak);
  line("used_memory_peak_human", bytesToHuman(b.used_memory_peak));
  line("maxmemory", b.maxmemory);
  line("maxmemory_human", bytesToHuman(b.maxmemory));
  line("maxmemory_policy", b.maxmemory_policy.empty() ? "unknown" : b.maxmemory_policy);
  char ratio[32];
  std::snprintf(ratio, sizeof ratio, "%.2f",
                b.used_memory == 0
                    ? 0.0
                    : static_cast<double>(b.used_memory_rss) / static_cast<double>(b.used_memory));
  line("mem_fragmentation_ratio", std::string_view(ratio));
}

void persistence(Lines& line, const InfoInputs&) {
  // readthru keeps nothing on disk and never loads a dataset.
  line("loading", 0);
  line("async_loading", 0);
}

void stats(Lines& line, const InfoInputs& in) {
  line("total_connections_received", total(in, "readthru_connections_received_total"));
  line("total_commands_processed", total(in, "readthru_commands_processed_total"));
  line("total_net_input_bytes", total(in, "readthru_net_input_bytes_total"));
  line("total_net_output_bytes", total(in, "readthru_net_output_bytes_total"));
  line("rejected_connections", total(in, "readthru_connections_rejected_total"));
  line("expired_keys", in.backend.expired_keys);
  line("evicted_keys", in.backend.evicted_keys);
  line("keyspace_hits", in.backend.keyspace_hits);
  line("keyspace_misses", in.backend.keyspace_misses);
  line("total_error_replies", total(in, "readthru_error_replies_total"));
}

void replication(Lines& line, const InfoInputs&) {
  // To its clients readthru is a master of its own one-node cluster.
  line("role", "master");
  line("connected_slaves", 0);
}

void cpu(Lines& line, const InfoInputs&) {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto seconds = [](const timeval& tv) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%ld.%06ld", static_cast<long>(tv.tv_sec),
                  static_cast<long>(tv.tv_usec));
    return std::string(buf);
  };
  line("used_cpu_sys", seconds(ru.ru_stime));
  line("used_cpu_user", seconds(ru.ru_utime));
}

void nothing(Lines&, const InfoInputs&) {}

void cluster(Lines& line, const InfoInputs&) { line("cluster_enabled", 1); }

void keyspace(Lines& line, const InfoInputs& in) {
  const BackendTotals& b = in.backend;
  if (b.keys == 0) return;  // as Redis: an empty database has no line
  line("db0", "keys=" + std::to_string(b.keys) + ",expires=" + std::to_string(b.expires) +
                  ",avg_ttl=" + std::to_string(b.avg_ttl));
}

// cmdstat_<name>:calls=,usec=,usec_per_call=,rejected_calls=,failed_calls= from the
// per-command counters; time is counted only for commands sent on.
void commandstats(Lines& line, const InfoInputs& in) {
  struct Stat {
    double calls = 0, failed = 0, seconds = 0;
  };
  std::map<std::string, Stat> by_name;
  if (const auto* f = in.snap.find("readthru_requests_total")) {
    for (const auto& s : f->series) {
      std::string name, result;
      for (const auto& l : s.labels) (l.name == "command" ? name : result) = l.value;
      Stat& st = by_name[name];
      st.calls += s.value;
      if (result == "error") st.failed += s.value;
    }
  }
  if (const auto* f = in.snap.find("readthru_command_seconds_total")) {
    for (const auto& s : f->series) {
      if (!s.labels.empty()) by_name[s.labels.front().value].seconds += s.value;
    }
  }
  for (const auto& [name, st] : by_name) {
    if (st.calls == 0) continue;
    const double usec = st.seconds * 1e6;
    char per_call[32];
    std::snprintf(per_call, sizeof per_call, "%.2f", usec / st.calls);
    line("cmdstat_" + name,
         "calls=" + metrics::formatNumber(st.calls) +
             ",usec=" + metrics::formatNumber(static_cast<double>(static_cast<long long>(usec))) +
             ",usec_per_call=" + per_call +
             ",rejected_calls=0,failed_calls=" + metrics::formatNumber(st.failed));
  }
}

// Redis's "errorstat_ERR:count=3", kinds in name order (Redis keeps them in a radix tree).
void errorstats(Lines& line, const InfoInputs& in) {
  std::map<std::string, double> by_kind;
  if (const auto* f = in.snap.find("readthru_error_replies_total")) {
    for (const auto& s : f->series) {
      if (!s.labels.empty() && s.value > 0) by_kind[s.labels.front().value] += s.value;
    }
  }
  for (const auto& [kind, n] : by_kind) {
    line("errorstat_" + kind, "count=" + metrics::formatNumber(n));
  }
}

struct Section {
  std::string_view name;
  std::string_view title;
  bool in_default;
  void (*render)(Lines&, const InfoInputs&);
  bool backend;  // shows backend sums
};

void readthruSection(Lines& line, const InfoInputs& in);

// Redis 7.0's order.
constexpr std::array kSections{
    Section{"server", "Server", true, server, false},
    Section{"clients", "Clients", true, clients, false},
    Section{"memory", "Memory", true, memory, true},
    Section{"persistence", "Persistence", true, persistence, false},
    Section{"stats", "Stats", true, stats, true},
    Section{"replication", "Replication", true, replication, false},
    Section{"cpu", "CPU", true, cpu, false},
    Section{"modules", "Modules", true, nothing, false},
    Section{"errorstats", "Errorstats", true, errorstats, false},
    Section{"cluster", "Cluster", true, cluster, false},
    Section{"keyspace", "Keyspace", true, keyspace, true},
    Section{"commandstats", "Commandstats", false, commandstats, false},
    Section{"readthru", "Readthru", true, readthruSection, false},
};

void readthruSection(Lines& line, const InfoInputs& in) {
  line("backend_mode", config::modeName(in.ctx.backend_mode));
  line("info_backend_nodes", in.backend.nodes);
  line("info_backend_nodes_failed", in.backend.nodes_failed);
}

const Section* findSection(std::string_view name) {
  for (const Section& s : kSections) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace

std::string bytesToHuman(std::uint64_t bytes) {
  static constexpr std::array<std::string_view, 5> kUnits{"K", "M", "G", "T", "P"};
  if (bytes < 1024) return std::to_string(bytes) + "B";
  double v = static_cast<double>(bytes) / 1024;
  std::size_t unit = 0;
  while (v >= 1024 && unit + 1 < kUnits.size()) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%s", v, std::string(kUnits[unit]).c_str());
  return buf;
}

std::vector<std::string_view> infoSections(const std::vector<std::string>& args) {
  bool def = args.empty(), all = false;
  std::vector<const Section*> named;
  for (const std::string& a : args) {
    const std::string s = toLower(a);
    if (s == "default") {
      def = true;
    } else if (s == "all" || s == "everything") {
      all = true;
    } else if (const Section* sec = findSection(s)) {
      named.push_back(sec);
    }
  }
  std::vector<std::string_view> out;
  for (const Section& s : kSections) {
    const bool wanted =
        all || (def && s.in_default) || std::find(named.begin(), named.end(), &s) != named.end();
    if (wanted) out.push_back(s.name);
  }
  return out;
}

bool needsBackendTotals(const std::vector<std::string_view>& sections) {
  return std::any_of(sections.begin(), sections.end(), [](std::string_view name) {
    const Section* s = findSection(name);
    return s != nullptr && s->backend;
  });
}

std::string renderInfoText(const std::vector<std::string_view>& sections, const InfoInputs& in) {
  std::string text;
  for (std::string_view name : sections) {
    const Section* s = findSection(name);
    if (s == nullptr) continue;
    if (!text.empty()) text += "\r\n";
    text += "# ";
    text.append(s->title);
    text += "\r\n";
    Lines line(text);
    s->render(line, in);
    // readthru's own counters, summed over io threads and labels.
    if (s->render == readthruSection) text += metrics::renderInfo(in.snap);
  }
  return text;
}

}  // namespace readthru::server
