#include "backend/redis/sentinel_messages.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace readthru::backend::redis {
namespace {

std::optional<std::uint16_t> parsePort(std::string_view text) {
  unsigned port = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc{} || p != text.data() + text.size() || port == 0 || port > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(port);
}

std::optional<std::uint64_t> parseUnsigned(std::string_view text) {
  std::uint64_t n = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || p != text.data() + text.size()) return std::nullopt;
  return n;
}

bool equalsLower(std::string_view a, std::string_view lower) {
  return a.size() == lower.size() &&
         std::equal(a.begin(), a.end(), lower.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == y;
         });
}

bool isString(const resp::Value& v) {
  return v.type == resp::Type::kBulk || v.type == resp::Type::kSimple;
}

// Splits `payload` into exactly N space-separated, non-empty fields.
template <std::size_t N>
std::optional<std::array<std::string_view, N>> splitFields(std::string_view payload) {
  std::array<std::string_view, N> fields;
  std::size_t n = 0;
  for (;;) {  // an empty field anywhere (also after a trailing space) refuses the payload
    const auto space = payload.find(' ');
    const std::string_view field = payload.substr(0, space);
    if (field.empty() || n == N) return std::nullopt;
    fields[n++] = field;
    if (space == std::string_view::npos) break;
    payload.remove_prefix(space + 1);
  }
  if (n != N) return std::nullopt;
  return fields;
}

std::optional<SwitchMaster> makeSwitch(std::string_view name, std::string_view from_host,
                                       std::string_view from_port, std::string_view to_host,
                                       std::string_view to_port) {
  const auto old_port = parsePort(from_port);
  const auto new_port = parsePort(to_port);
  if (!old_port || !new_port) return std::nullopt;
  SwitchMaster s;
  s.name = std::string(name);
  s.from = {std::string(from_host), *old_port};
  s.to = {std::string(to_host), *new_port};
  return s;
}

}  // namespace

std::optional<SwitchMaster> parseSwitchMaster(std::string_view payload) {
  const auto f = splitFields<5>(payload);
  if (!f) return std::nullopt;
  return makeSwitch((*f)[0], (*f)[1], (*f)[2], (*f)[3], (*f)[4]);
}

std::optional<SwitchMaster> parsePromotedSlave(std::string_view payload) {
  const auto f = splitFields<8>(payload);
  if (!f || (*f)[0] != "slave" || (*f)[4] != "@") return std::nullopt;
  return makeSwitch((*f)[5], (*f)[6], (*f)[7], (*f)[2], (*f)[3]);
}

std::optional<SwitchMaster> parseMasterEvent(std::string_view channel, std::string_view payload) {
  for (const auto& c : kMasterEventChannels) {
    if (c.channel == channel) return c.parse(payload);
  }
  return std::nullopt;
}

PushMessage classifyPush(const resp::Value& v) {
  PushMessage m;
  if (!v.isArray() || v.elements.empty() || !isString(v.elements[0])) return m;
  const std::string_view kind = v.elements[0].str;
  const auto& e = v.elements;
  if (equalsLower(kind, "message") && e.size() == 3 && isString(e[1]) && isString(e[2])) {
    m.kind = PushMessage::Kind::kMessage;
    m.channel = e[1].str;
    m.payload = e[2].str;
  } else if (equalsLower(kind, "subscribe") && e.size() == 3 && isString(e[1])) {
    m.kind = PushMessage::Kind::kSubscribed;
    m.channel = e[1].str;
  } else if (equalsLower(kind, "pong")) {
    m.kind = PushMessage::Kind::kPong;
  }
  return m;
}

Result<MasterAddress> parseSentinelAnswers(const resp::Value& addr, const resp::Value& master) {
  if (addr.isError()) return Error{addr.str};
  if (!addr.isArray() || addr.elements.size() != 2 || !isString(addr.elements[0]) ||
      addr.elements[0].str.empty()) {
    return Error{"get-master-addr-by-name: no such master"};
  }
  const auto port = parsePort(addr.elements[1].str);
  if (!port) return Error{"get-master-addr-by-name: no valid port"};
  if (master.isError()) return Error{master.str};
  if (!master.isArray() || master.elements.size() % 2 != 0) {
    return Error{"SENTINEL MASTER: not a field/value list"};
  }
  std::optional<std::uint64_t> epoch;
  for (std::size_t i = 0; i + 1 < master.elements.size(); i += 2) {
    if (master.elements[i].str == "config-epoch") {
      epoch = parseUnsigned(master.elements[i + 1].str);
    }
  }
  if (!epoch) return Error{"SENTINEL MASTER: no valid config-epoch"};
  return MasterAddress{{addr.elements[0].str, *port}, *epoch};
}

// ---------------------------------------------------------------------------------------
// MasterChoice

std::optional<config::Endpoint> MasterChoice::onPoll(const MasterAddress& seen,
                                                     Clock::time_point now) {
  const bool stale = seen.epoch < std::max(epoch_, min_epoch_);
  if (stale && seen.master != current_) {
    if (!stale_since_) stale_since_ = now;
    if (now - *stale_since_ < kStaleHold) return std::nullopt;
  }
  stale_since_.reset();
  if (stale && seen.master == current_) return std::nullopt;  // the address we follow
  epoch_ = seen.epoch;
  min_epoch_ = 0;
  return move(seen.master);
}

std::optional<config::Endpoint> MasterChoice::onSwitch(const config::Endpoint& to) {
  if (current_ == to) return std::nullopt;
  min_epoch_ = std::max(min_epoch_, epoch_ + 1);
  stale_since_.reset();
  return move(to);
}

std::optional<config::Endpoint> MasterChoice::move(const config::Endpoint& to) {
  if (current_ == to) return std::nullopt;
  current_ = to;
  return to;
}

}  // namespace readthru::backend::redis
