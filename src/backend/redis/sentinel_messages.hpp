#pragma once
// What Sentinel tells us about the master, and how to decide between its two voices.
// Pure: values in, values out; no I/O. Used by the Router (polling SENTINEL MASTER) and
// by SentinelWatch (the +switch-master subscription).
//
// Two voices can disagree for a while after a failover: the sentinel that ran it
// announces +switch-master at once, while another sentinel learns the new address only
// from its peers' hello messages, about two seconds later. A poll answered by that one
// would move readthru back to the old master, which keeps accepting writes (and loses
// them) until Sentinel demotes it. MasterChoice therefore orders what it hears by
// Sentinel's config epoch, which every failover increments.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "config/config.hpp"
#include "resp/value.hpp"

namespace readthru::backend::redis {

// The payload of a +switch-master message: "<master-name> <old-ip> <old-port> <new-ip>
// <new-port>".
struct SwitchMaster {
  std::string name;
  config::Endpoint from;
  config::Endpoint to;
};

// nullopt when `payload` is not five space-separated fields with valid ports.
std::optional<SwitchMaster> parseSwitchMaster(std::string_view payload);

// A message on a subscribed connection, as far as SentinelWatch cares.
struct PushMessage {
  enum class Kind { kSubscribed, kMessage, kPong, kOther };
  Kind kind = Kind::kOther;
  std::string channel;  // kSubscribed, kMessage
  std::string payload;  // kMessage
};

// Classifies a RESP2 reply read on a subscribed connection: ["subscribe", channel, n],
// ["message", channel, payload], ["pong", ""] (PING while subscribed) or anything else.
PushMessage classifyPush(const resp::Value& v);

// The master's address and config epoch, from the flat field/value array SENTINEL MASTER
// answers. An error reply, a master Sentinel does not know, or missing fields are an
// Error whose message says which.
struct MasterAddress {
  config::Endpoint master;
  std::uint64_t epoch = 0;
};
Result<MasterAddress> parseSentinelMaster(const resp::Value& v);

// Which master to use, given polls (with epochs) and +switch-master messages (without).
// Each call returns the endpoint to move to, or nullopt to stay where we are.
//
// A poll naming an older epoch than the one followed is taken for a sentinel that has not
// caught up, and ignored; but only for kStaleHold, since an epoch can also go back for
// good (Sentinel's state reset or rebuilt by an operator), and readthru must then follow.
class MasterChoice {
 public:
  using Clock = std::chrono::steady_clock;
  // Sentinels share a new configuration every 2 s (their hello messages): well inside.
  static constexpr std::chrono::seconds kStaleHold{10};

  // A poll's answer at `now`.
  std::optional<config::Endpoint> onPoll(const MasterAddress& seen, Clock::time_point now);
  // A +switch-master for our master: the new address is newer than any epoch known so
  // far, so polls still naming that epoch are stale from now on.
  std::optional<config::Endpoint> onSwitch(const config::Endpoint& to);

  const std::optional<config::Endpoint>& current() const { return current_; }

 private:
  std::optional<config::Endpoint> move(const config::Endpoint& to);

  std::optional<config::Endpoint> current_;
  std::uint64_t epoch_ = 0;      // of the last poll adopted
  std::uint64_t min_epoch_ = 0;  // a +switch-master since: polls below this are stale
  std::optional<Clock::time_point> stale_since_;  // polls have named an older epoch since
};

}  // namespace readthru::backend::redis
