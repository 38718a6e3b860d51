#include "cache/keyspace_stats.hpp"

namespace readthru::cache {
namespace {

using metrics::Family;
using metrics::Kind;

constexpr Family kHits{"readthru_cache_hits_total", Kind::kCounter,
                       "Reads of managed keys that Redis answered.", "readthru_hits"};
constexpr Family kMisses{"readthru_cache_misses_total", Kind::kCounter,
                         "Reads of managed keys that needed a load.", "readthru_misses"};
constexpr Family kDisabled{"readthru_disabled_errors_total", Kind::kCounter,
                           "Reads refused because the keyspace's SQL was rejected.",
                           "readthru_disabled_errors"};
constexpr Family kCacheDownLoads{"readthru_cache_down_loads_total", Kind::kCounter,
                                 "Reads answered from PostgreSQL because Redis could not.",
                                 "readthru_cache_down_loads"};
constexpr Family kCacheDownErrors{"readthru_cache_down_errors_total", Kind::kCounter,
                                  "Reads failed because Redis could not answer "
                                  "(on_cache_down: error).",
                                  "readthru_cache_down_errors"};
constexpr Family kGutterServed{"readthru_gutter_served_total", Kind::kCounter,
                               "Reads answered from the in-process gutter while Redis was down.",
                               "readthru_gutter_served"};
constexpr Family kStaleServed{"readthru_stale_served_total", Kind::kCounter,
                              "Stale values served while one reload ran "
                              "(stale_while_revalidate).",
                              "readthru_stale_served"};
constexpr Family kRefreshedAhead{"readthru_refreshed_ahead_total", Kind::kCounter,
                                 "Fresh values served that started a reload (refresh_ahead).",
                                 "readthru_refreshed_ahead"};
constexpr Family kStaleIfError{"readthru_stale_if_error_served_total", Kind::kCounter,
                               "Stale values served because the reload failed (stale_if_error).",
                               "readthru_stale_if_error_served"};
constexpr Family kLoads{"readthru_loads_total", Kind::kCounter,
                        "Keys loaded from PostgreSQL by this instance.", "readthru_loads"};
constexpr Family kLoadErrors{"readthru_load_errors_total", Kind::kCounter, "Loads that failed.",
                             "readthru_load_errors"};
constexpr Family kNegativeHits{"readthru_negative_hits_total", Kind::kCounter,
                               "Reads answered by a cached 'no such row'.",
                               "readthru_negative_hits"};
constexpr Family kCoalesced{"readthru_coalesced_total", Kind::kCounter,
                            "Reads that joined a load already in flight in this process.",
                            "readthru_singleflight_joins"};
constexpr Family kFallbacks{"readthru_fallbacks_served_total", Kind::kCounter,
                            "Reads answered with the keyspace's fallback_value.",
                            "readthru_fallbacks_served"};
constexpr Family kDeadlines{"readthru_deadlines_total", Kind::kCounter,
                            "Reads that ran out of request_deadline.", "readthru_deadlines"};
constexpr Family kBackgroundRefreshes{"readthru_background_refreshes_total", Kind::kCounter,
                                      "Background reloads started by the stale ladder.",
                                      "readthru_background_refreshes"};
constexpr Family kBatchQueries{"readthru_sql_batch_queries_total", Kind::kCounter,
                               "Batch statements run (several keys in one).",
                               "readthru_sql_batch_queries"};
constexpr Family kSingleQueries{"readthru_sql_single_queries_total", Kind::kCounter,
                                "Single-key statements run.", "readthru_sql_single_queries"};
constexpr Family kRefused{"readthru_loads_refused_total", Kind::kCounter,
                          "Loads refused at once because the keyspace's wait was full.",
                          "readthru_loads_refused"};
constexpr Family kLoadDuration{"readthru_load_duration_seconds", Kind::kHistogram,
                               "Time to load one key from PostgreSQL."};

}  // namespace

KeyspaceStats& KeyspaceStatsTable::at(const std::string& keyspace) {
  std::lock_guard lock(mutex_);
  std::unique_ptr<KeyspaceStats>& s = by_name_[keyspace];
  if (!s) s = std::make_unique<KeyspaceStats>();
  return *s;
}

void KeyspaceStatsTable::collect(metrics::Sink& sink) const {
  std::lock_guard lock(mutex_);
  for (const auto& [name, s] : by_name_) {
    const metrics::Labels l{{"keyspace", name}};
    sink.add(kHits, s->hits, l);
    sink.add(kMisses, s->misses, l);
    sink.add(kLoads, s->loads, l);
    sink.add(kLoadErrors, s->load_errors, l);
    sink.add(kCoalesced, s->coalesced, l);
    sink.add(kNegativeHits, s->negative_hits, l);
    sink.add(kBatchQueries, s->batch_queries, l);
    sink.add(kSingleQueries, s->single_queries, l);
    sink.add(kRefused, s->refused, l);
    sink.add(kStaleServed, s->stale_served, l);
    sink.add(kRefreshedAhead, s->refreshed_ahead, l);
    sink.add(kStaleIfError, s->stale_if_error_served, l);
    sink.add(kBackgroundRefreshes, s->background_refreshes, l);
    sink.add(kCacheDownLoads, s->cache_down_loads, l);
    sink.add(kCacheDownErrors, s->cache_down_errors, l);
    sink.add(kGutterServed, s->gutter_served, l);
    sink.add(kFallbacks, s->fallbacks_served, l);
    sink.add(kDeadlines, s->deadlines, l);
    sink.add(kDisabled, s->disabled_errors, l);
    sink.add(kLoadDuration, s->load_duration, l);
  }
}

}  // namespace readthru::cache
