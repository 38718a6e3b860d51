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

}  // namespace

std::optional<SwitchMaster> parseSwitchMaster(std::string_view payload) {
  std::array<std::string_view, 5> fields;
  std::size_t n = 0;
  for (;;) {  // an empty field anywhere (also after a trailing space) refuses the payload
    const auto space = payload.find(' ');
    const std::string_view field = payload.substr(0, space);
    if (field.empty() || n == fields.size()) return std::nullopt;
    fields[n++] = field;
    if (space == std::string_view::npos) break;
    payload.remove_prefix(space + 1);
  }
  if (n != fields.size()) return std::nullopt;
  const auto old_port = parsePort(fields[2]);
  const auto new_port = parsePort(fields[4]);
  if (!old_port || !new_port) return std::nullopt;
  SwitchMaster s;
  s.name = std::string(fields[0]);
  s.from = {std::string(fields[1]), *old_port};
  s.to = {std::string(fields[3]), *new_port};
  return s;
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

Result<MasterAddress> parseSentinelMaster(const resp::Value& v) {
  if (v.isError()) return Error{v.str};
  if (!v.isArray() || v.elements.size() % 2 != 0) {
    return Error{"SENTINEL MASTER: not a field/value list"};
  }
  std::optional<std::string_view> ip, port, epoch;
  for (std::size_t i = 0; i + 1 < v.elements.size(); i += 2) {
    const std::string_view name = v.elements[i].str;
    const std::string_view value = v.elements[i + 1].str;
    if (name == "ip") ip = value;
    if (name == "port") port = value;
    if (name == "config-epoch") epoch = value;
  }
  if (!ip || ip->empty()) return Error{"SENTINEL MASTER: no ip"};
  const auto p = port ? parsePort(*port) : std::nullopt;
  if (!p) return Error{"SENTINEL MASTER: no valid port"};
  const auto e = epoch ? parseUnsigned(*epoch) : std::nullopt;
  if (!e) return Error{"SENTINEL MASTER: no valid config-epoch"};
  return MasterAddress{{std::string(*ip), *p}, *e};
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
