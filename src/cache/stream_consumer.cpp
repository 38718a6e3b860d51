#include "cache/stream_consumer.hpp"

#include "common/log.hpp"
#include "common/text.hpp"

namespace readthru::cache {
namespace {

using metrics::Family;
using metrics::Kind;
constexpr Family kApplied{"readthru_stream_entries_applied_total", Kind::kCounter,
                          "Invalidation stream entries applied.", "stream_entries_applied"};
constexpr Family kBad{"readthru_stream_entries_bad_total", Kind::kCounter,
                      "Invalidation stream entries that could not be read.", "stream_entries_bad"};
constexpr Family kErrors{"readthru_stream_errors_total", Kind::kCounter,
                         "Errors reading the invalidation stream.", "stream_errors"};
constexpr Family kClaimed{"readthru_stream_entries_claimed_total", Kind::kCounter,
                          "Entries claimed from consumers that stopped.", "stream_entries_claimed"};
constexpr Family kDropped{"readthru_stream_entries_dropped_total", Kind::kCounter,
                          "Entries dropped after failing too often.", "stream_entries_dropped"};

constexpr Millis kRetry{1000};
constexpr Millis kMaxRetry{30000};
constexpr int kMaxAttempts = 10;  // about 3 minutes of retries
constexpr auto kClaimEvery = std::chrono::seconds(10);

}  // namespace

// The entries of one read, applied together; acknowledged once all of them are.
struct StreamConsumer::Batch {
  std::vector<std::string> ids;
  std::size_t remaining = 1;  // one for the loop that starts the invalidations
  bool failed = false;
  std::string error;
};

StreamConsumer::StreamConsumer(boost::asio::io_context& io, Backend& redis,
                               ReadThrough& read_through, Options options)
    : io_(io),
      redis_(redis),
      read_through_(read_through),
      options_(std::move(options)),
      timer_(io) {}

void StreamConsumer::start() {
  spdlog::info("invalidation stream: reading '{}' as consumer '{}' of group '{}'", options_.key,
               options_.consumer, options_.group);
  createGroup();
}

void StreamConsumer::stop() {
  stopped_ = true;
  timer_.cancel();
}

void StreamConsumer::later(Millis delay, void (StreamConsumer::*step)()) {
  if (stopped_) return;
  timer_.expires_after(delay);
  timer_.async_wait([this, step](boost::system::error_code ec) {
    if (!ec && !stopped_) (this->*step)();
  });
}

// From id 0: entries written before the group existed are invalidations too, and
// applying one twice is harmless.
void StreamConsumer::createGroup() {
  redis_.send(
      {"XGROUP", "CREATE", options_.key, options_.group, "0", "MKSTREAM"}, [this](resp::Value v) {
        if (v.isError() && !v.str.starts_with("BUSYGROUP")) {
          if (v.str != last_error_) {
            spdlog::warn("invalidation stream '{}': cannot create group: {}", options_.key, v.str);
            last_error_ = v.str;
          }
          errors_.add();
          later(kRetry, &StreamConsumer::createGroup);
          return;
        }
        read();
      });
}

void StreamConsumer::read() {
  if (std::chrono::steady_clock::now() >= next_claim_) {
    next_claim_ = std::chrono::steady_clock::now() + kClaimEvery;
    claim();
    return;
  }
  redis_.send({"XREADGROUP", "GROUP", options_.group, options_.consumer, "COUNT",
               std::to_string(options_.batch), "STREAMS", options_.key, own_pending_ ? "0" : ">"},
              [this](resp::Value v) { onRead(std::move(v)); });
}

void StreamConsumer::onRead(resp::Value v) {
  if (stopped_) return;
  if (v.isError()) {
    if (v.str != last_error_) {
      spdlog::warn("invalidation stream '{}': {}", options_.key, v.str);
      last_error_ = v.str;
    }
    errors_.add();
    if (v.str.starts_with("NOGROUP")) {  // the stream or group was deleted: start over
      own_pending_ = true;
      later(kRetry, &StreamConsumer::createGroup);
    } else {
      later(kRetry, &StreamConsumer::read);
    }
    return;
  }
  if (!last_error_.empty()) {
    spdlog::info("invalidation stream '{}': reading again", options_.key);
    last_error_.clear();
  }
  // [[stream, [[id, [field, value, ...]], ...]]], or nil when nothing is new.
  std::vector<resp::Value> entries;
  if (v.isArray() && !v.elements.empty() && v.elements[0].isArray() &&
      v.elements[0].elements.size() == 2) {
    entries = std::move(v.elements[0].elements[1].elements);
  }
  if (entries.empty()) {
    if (own_pending_) {
      own_pending_ = false;
      read();
      return;
    }
    later(options_.poll, &StreamConsumer::read);
    return;
  }
  apply(std::move(entries));
}

void StreamConsumer::apply(std::vector<resp::Value> entries) {
  auto batch = std::make_shared<Batch>();
  const bool full = entries.size() >= static_cast<std::size_t>(options_.batch);
  auto finish = [this, batch, full] {
    if (--batch->remaining > 0) return;
    if (batch->failed) {
      errors_.add();
      const std::string first = batch->ids.empty() ? std::string() : batch->ids.front();
      attempts_ = first == failing_id_ ? attempts_ + 1 : 1;
      failing_id_ = first;
      if (attempts_ < kMaxAttempts) {
        // Not acknowledged: read our pending entries again after a pause that grows, so a
        // Redis node that is failing over has time to come back.
        if (batch->error != last_error_) {
          spdlog::warn("invalidation stream '{}': not applied, will retry: {}", options_.key,
                       batch->error);
          last_error_ = batch->error;
        }
        own_pending_ = true;
        later(std::min(kMaxRetry, kRetry * (1 << std::min(attempts_ - 1, 5))),
              &StreamConsumer::read);
        return;
      }
      // An entry that fails every time must not stop every entry behind it for ever.
      spdlog::error("invalidation stream '{}': gave up on {} entries from {} after {} attempts: {}",
                    options_.key, batch->ids.size(), first, attempts_, batch->error);
      dropped_.add(batch->ids.size());
    }
    attempts_ = 0;
    failing_id_.clear();
    std::vector<std::string> ack{"XACK", options_.key, options_.group};
    ack.insert(ack.end(), batch->ids.begin(), batch->ids.end());
    redis_.send(std::move(ack), [this, full](resp::Value) {
      if (stopped_) return;
      if (full || own_pending_) {
        read();
      } else {
        later(options_.poll, &StreamConsumer::read);
      }
    });
  };
  auto done = [batch, finish](resp::Value v) {
    if (v.isError()) {
      batch->failed = true;
      batch->error = v.str;
    }
    finish();
  };
  const auto source = InvalidationSource::kStream;
  for (resp::Value& entry : entries) {
    if (!entry.isArray() || entry.elements.size() != 2) continue;
    batch->ids.push_back(entry.elements[0].str);
    std::vector<std::string> keys, tags, keyspaces;
    const auto& fields = entry.elements[1].elements;  // nil for an entry deleted since
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
      const std::string name = toLower(fields[i].str);
      if (name == "key") keys.push_back(fields[i + 1].str);
      if (name == "tag") tags.push_back(fields[i + 1].str);
      if (name == "keyspace") keyspaces.push_back(fields[i + 1].str);
    }
    if (keys.empty() && tags.empty() && keyspaces.empty()) {
      bad_.add();
      logSkipped("entry " + entry.elements[0].str + " has no key, tag or keyspace field");
      continue;
    }
    applied_.add();
    if (!keys.empty()) {
      ++batch->remaining;
      read_through_.invalidateKeys(std::move(keys), 0, done, source);
    }
    if (!tags.empty()) {
      ++batch->remaining;
      read_through_.invalidateTags(std::move(tags), source, done);
    }
    for (const std::string& ks : keyspaces) {
      // An unknown keyspace is the entry's fault, not Redis's: retrying cannot help.
      if (!read_through_.hasKeyspace(ks)) {
        bad_.add();
        logSkipped("no keyspace named '" + ks + "'");
        continue;
      }
      ++batch->remaining;
      read_through_.invalidateKeyspace(ks, source, done);
    }
  }
  finish();
}

// Entries another consumer read and never acknowledged (it died) become ours; the next
// read of our own pending entries applies them.
void StreamConsumer::claim() {
  redis_.send({"XAUTOCLAIM", options_.key, options_.group, options_.consumer,
               std::to_string(options_.claim_idle.count()), "0-0", "COUNT",
               std::to_string(options_.batch), "JUSTID"},
              [this](resp::Value v) {
                if (stopped_) return;
                if (v.isArray() && v.elements.size() >= 2 && !v.elements[1].elements.empty()) {
                  claimed_.add(v.elements[1].elements.size());
                  own_pending_ = true;
                }
                read();
              });
}

void StreamConsumer::collect(metrics::Sink& sink) const {
  sink.add(kApplied, applied_);
  sink.add(kBad, bad_);
  sink.add(kErrors, errors_);
  sink.add(kClaimed, claimed_);
  sink.add(kDropped, dropped_);
}

void StreamConsumer::logSkipped(const std::string& why) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
  const LineBudget::Verdict v = skipped_lines_.admit(now);
  if (v.suppressed > 0) {
    spdlog::warn("invalidation stream '{}': {} more entries skipped, not logged", options_.key,
                 v.suppressed);
  }
  if (v.log) spdlog::warn("invalidation stream '{}': {}; skipped", options_.key, why);
}

}  // namespace readthru::cache
