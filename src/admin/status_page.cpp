#include "admin/status_page.hpp"

#include <cstdio>
#include <set>

#include "metrics/render.hpp"

namespace readthru::admin {
namespace {

// The label values a family has for `label`, sorted.
std::set<std::string> labelValues(const metrics::Snapshot& snap, std::string_view family,
                                  std::string_view label) {
  std::set<std::string> out;
  if (const auto* f = snap.find(family)) {
    for (const auto& s : f->series) {
      for (const auto& l : s.labels) {
        if (l.name == label) out.insert(l.value);
      }
    }
  }
  return out;
}

std::string percent(double part, double whole) {
  if (whole <= 0) return "–";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * part / whole);
  return buf;
}

void cell(std::string& out, std::string_view text) {
  out += "<td>";
  out += htmlEscape(text);
  out += "</td>";
}

void number(std::string& out, double v) { cell(out, metrics::formatNumber(v)); }

void headRow(std::string& out, std::initializer_list<std::string_view> names) {
  out += "<tr>";
  for (auto n : names) {
    out += "<th>";
    out += htmlEscape(n);
    out += "</th>";
  }
  out += "</tr>\n";
}

void keyspaces(std::string& out, const metrics::Snapshot& snap) {
  out += "<h2>Keyspaces</h2>\n<table>\n";
  headRow(out, {"keyspace", "hit ratio", "hits", "misses", "loads", "load errors", "coalesced",
                "stale served", "cache-down loads"});
  for (const std::string& ks : labelValues(snap, "readthru_cache_hits_total", "keyspace")) {
    const metrics::Label l{"keyspace", ks};
    const double hits = snap.value("readthru_cache_hits_total", l);
    const double misses = snap.value("readthru_cache_misses_total", l);
    out += "<tr>";
    cell(out, ks);
    cell(out, percent(hits, hits + misses));
    number(out, hits);
    number(out, misses);
    number(out, snap.value("readthru_loads_total", l));
    number(out, snap.value("readthru_load_errors_total", l));
    number(out, snap.value("readthru_coalesced_total", l));
    number(out, snap.value("readthru_stale_served_total", l) +
                    snap.value("readthru_stale_if_error_served_total", l));
    number(out, snap.value("readthru_cache_down_loads_total", l));
    out += "</tr>\n";
  }
  out += "</table>\n";
}

void nodes(std::string& out, const metrics::Snapshot& snap) {
  out += "<h2>Redis nodes</h2>\n<table>\n";
  headRow(out, {"node", "breaker", "times opened", "rejected", "MOVED", "ASK"});
  std::set<std::string> all = labelValues(snap, "readthru_backend_breaker_open", "node");
  all.merge(labelValues(snap, "readthru_backend_moved_total", "node"));
  for (const std::string& node : all) {
    const metrics::Label l{"node", node};
    const bool open = snap.value("readthru_backend_breaker_open", l) > 0;
    const bool half = snap.value("readthru_backend_breaker_half_open", l) > 0;
    out += open ? "<tr class=bad>" : "<tr>";
    cell(out, node);
    cell(out, half ? "half-open" : open ? "open" : "closed");
    number(out, snap.value("readthru_backend_breaker_opened_total", l));
    number(out, snap.value("readthru_backend_breaker_rejected_total", l));
    number(out, snap.value("readthru_backend_moved_total", l));
    number(out, snap.value("readthru_backend_ask_total", l));
    out += "</tr>\n";
  }
  out += "</table>\n";
}

void summary(std::string& out, const metrics::Snapshot& snap) {
  out += "<h2>Process</h2>\n<table>\n";
  auto row = [&](std::string_view name, double v) {
    out += "<tr>";
    cell(out, name);
    number(out, v);
    out += "</tr>\n";
  };
  row("commands processed", snap.total("readthru_commands_processed_total"));
  row("connections received", snap.total("readthru_connections_received_total"));
  row("error replies", snap.total("readthru_error_replies_total"));
  row("database sessions up", snap.total("readthru_pg_connections_up"));
  row("database breaker open", snap.total("readthru_pg_breaker_open"));
  if (snap.find("readthru_cdc_leader") != nullptr) {
    row("CDC leader", snap.total("readthru_cdc_leader"));
    row("CDC lag (ms)", snap.total("readthru_cdc_lag_seconds") * 1000);
    row("CDC lag (bytes)", snap.total("readthru_cdc_lag_bytes"));
    row("CDC queued transactions", snap.total("readthru_cdc_queued_transactions"));
  }
  row("gutter entries", snap.total("readthru_gutter_entries"));
  out += "</table>\n";
}

}  // namespace

std::string htmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string renderStatusPage(const metrics::Snapshot& snap, const PageHeader& header) {
  std::string out =
      "<!doctype html>\n<html><head><meta charset=utf-8>"
      "<meta http-equiv=refresh content=5><title>readthru</title>\n<style>"
      "body{font:14px sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1em}"
      "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
      "th:first-child,td:first-child{text-align:left}tr.bad td{background:#fdd}"
      ".ok{color:#070}.no{color:#b00}</style></head><body>\n";
  out += "<h1>readthru " + htmlEscape(header.version) + "</h1>\n<p>clients on " +
         htmlEscape(header.listen) + ", up " + std::to_string(header.uptime_seconds) + " s, ";
  out += header.readiness.ready ? "<b class=ok>" : "<b class=no>";
  out += htmlEscape(header.readiness.reason) +
         "</b>. Figures since start; /metrics has them all.</p>\n";
  keyspaces(out, snap);
  nodes(out, snap);
  summary(out, snap);
  out += "</body></html>\n";
  return out;
}

}  // namespace readthru::admin
