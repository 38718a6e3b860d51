#pragma once
// Invalidations from other systems through a Redis Stream (`invalidation_stream:`). An
// application, a job or Debezium XADDs entries with a `key`, `tag` or `keyspace` field
// (several fields, and several of each, may share one entry); every readthru instance
// reads the stream in one consumer group, so each entry is applied once, and acknowledges
// an entry only after Redis confirmed its invalidations. An entry left pending by an
// instance that died is claimed by another after `claim_idle`. A batch that keeps failing
// is retried with growing pauses for about three minutes, then acknowledged and logged
// as dropped, so that one poisoned entry cannot stop the stream.
//
// Reads poll (XREADGROUP without BLOCK) so that the consumer never holds a connection
// that client commands share. Lives on one io thread, with that thread's ReadThrough.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <string>

#include "cache/backend.hpp"
#include "cache/read_through.hpp"
#include "common/line_budget.hpp"
#include "common/units.hpp"

namespace readthru::cache {

class StreamConsumer : public metrics::Source {
 public:
  struct Options {
    std::string key;
    std::string group;
    std::string consumer;  // unique per process
    int batch = 100;
    Millis poll{100};          // the wait after a read that found nothing
    Millis claim_idle{30000};  // another consumer's pending entry is taken after this
  };

  StreamConsumer(boost::asio::io_context& io, Backend& redis, ReadThrough& read_through,
                 Options options);

  void start();
  void stop();

  void collect(metrics::Sink& sink) const override;

 private:
  // A bad entry's line, within skipped_lines_.
  void logSkipped(const std::string& why);
  struct Batch;

  void createGroup();
  void read();
  void onRead(resp::Value v);
  void apply(std::vector<resp::Value> entries);
  void claim();
  void later(Millis delay, void (StreamConsumer::*step)());

  boost::asio::io_context& io_;
  Backend& redis_;
  ReadThrough& read_through_;
  Options options_;
  boost::asio::steady_timer timer_;
  bool stopped_ = false;
  bool own_pending_ = true;  // read our own pending entries ("0") before new ones (">")
  std::chrono::steady_clock::time_point next_claim_{};
  std::string last_error_;  // logged once until the stream works again
  // Entries skipped are the producer's doing and may come by the thousand: a few lines a
  // second, the rest counted (readthru_stream_entries_bad_total) and summed in the next line.
  LineBudget skipped_lines_{5};
  std::string failing_id_;  // the first entry of the batch that failed last, and how often
  int attempts_ = 0;
  metrics::Counter applied_, bad_, errors_, claimed_, dropped_;
};

}  // namespace readthru::cache
