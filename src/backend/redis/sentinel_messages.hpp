#pragma once
// What Sentinel tells us about the master, and how to decide between its voices. Pure:
// values in, values out; no I/O. Used by the Router (the poll) and by SentinelWatch (the
// subscription).
//
// The sentinel that runs a failover names the new master from the moment it sees the
// replica promoted: it publishes +promoted-slave, and get-master-addr-by-name answers the
// new address; +switch-master follows when its reconfiguration ends, 100-200 ms later.
// The other sentinels learn of it from their peers' hello messages, up to two seconds
// later, and then publish +switch-master. Until then a poll answered by one of them would
// move readthru back to the old master, which keeps accepting writes (and loses them)
// until Sentinel demotes it. MasterChoice therefore orders what it hears by Sentinel's
// config epoch, which the failover increments when the replica is promoted.

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

// The payload of +promoted-slave, as the leading sentinel publishes it: "slave
// <ip>:<port> <ip> <port> @ <master-name> <master-ip> <master-port>". `to` is the
// promoted replica. nullopt when it is not that shape.
std::optional<SwitchMaster> parsePromotedSlave(std::string_view payload);

// The channels SentinelWatch subscribes to, each with the parser of its payload: the
// table MasterEvent lookups read.
struct MasterEventChannel {
  std::string_view channel;
  std::optional<SwitchMaster> (*parse)(std::string_view payload);
};
inline constexpr MasterEventChannel kMasterEventChannels[] = {
    {"+promoted-slave", parsePromotedSlave},
    {"+switch-master", parseSwitchMaster},
};
// The event a message on `channel` announces; nullopt for another channel or a payload
// that does not parse.
std::optional<SwitchMaster> parseMasterEvent(std::string_view channel, std::string_view payload);

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

// One poll: the master's address from SENTINEL get-master-addr-by-name (`addr`, the
// promoted replica as soon as it is promoted) and the config epoch from SENTINEL MASTER
// (`master`, a flat field/value array), asked in that order on one connection. In that
// order a failover between the two can only pair the old address with the new epoch,
// which the next poll corrects; never the new address with the old epoch, which would make
// a lagging sentinel's answer look current. An error reply, a master Sentinel does not
// know, or missing fields are an Error whose message says which.
struct MasterAddress {
  config::Endpoint master;
  std::uint64_t epoch = 0;
};
Result<MasterAddress> parseSentinelAnswers(const resp::Value& addr, const resp::Value& master);

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
  // A +promoted-slave or +switch-master for our master: the new address is newer than any
  // epoch known so far, so polls still naming that epoch are stale from now on. An event
  // naming the master we follow already changes nothing (the second of the pair, or a
  // poll was first).
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
