#include "cache/side_keys.hpp"

#include <array>
#include <charconv>
#include <cstdint>

#include "command/key_slot.hpp"

namespace readthru::cache {
namespace {

// Counting up in base 36 covers all 16,384 slots after ~170,000 candidates, well under a
// millisecond, once per process.
std::array<std::string, command::kSlotCount> buildTags() {
  std::array<std::string, command::kSlotCount> tags;
  std::size_t filled = 0;
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  for (std::uint64_t n = 0; filled < tags.size(); ++n) {
    std::string text;
    std::uint64_t v = n;
    do {
      text.insert(text.begin(), kDigits[v % 36]);
      v /= 36;
    } while (v != 0);
    std::string& slot = tags[command::crc16(text) % command::kSlotCount];
    if (slot.empty()) {
      slot = std::move(text);
      ++filled;
    }
  }
  return tags;
}

}  // namespace

const std::string& slotTag(std::uint16_t slot) {
  static const std::array<std::string, command::kSlotCount> kTags = buildTags();
  return kTags[slot % command::kSlotCount];
}

namespace {

std::string sideKey(std::string_view kind, std::string_view key) {
  const std::string& tag = slotTag(command::keyHashSlot(key));
  std::string out;
  out.reserve(kind.size() + tag.size() + key.size() + 16);
  out.append("readthru:").append(kind).append(":{").append(tag).append("}:").append(key);
  return out;
}

}  // namespace

std::string stateKey(std::string_view key) { return sideKey("state", key); }
std::string metaKey(std::string_view key) { return sideKey("meta", key); }

namespace {

// "readthru:tag:{<slot tag>}:": the slot comes from the whole tag, through a slot tag of
// ours, because a tag's own text may be empty or hold '{' or '}', which would cut a hash
// tag short. Every key kept for one tag starts so, and shares its slot.
std::string tagPrefix(std::string_view tag) {
  std::string out = "readthru:tag:{";
  out += slotTag(command::keyHashSlot(tag));
  out += "}:";
  return out;
}

}  // namespace

std::string tagKey(std::string_view tag) { return tagPrefix(tag).append(tag); }

std::string tagGoneKey(std::string_view tag, std::string_view token) {
  return tagPrefix(tag).append("gone:").append(token).append(":").append(tag);
}

std::string tagMarkKey(std::string_view tag) { return tagPrefix(tag).append("mark:").append(tag); }

std::optional<std::int64_t> tagEpoch(const resp::Value& v) {
  if (v.type == resp::Type::kNil) return 0;
  if (v.type != resp::Type::kBulk) return std::nullopt;
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(v.str.data(), v.str.data() + v.str.size(), n);
  if (ec != std::errc{} || p != v.str.data() + v.str.size()) return std::nullopt;
  return n;
}

std::optional<std::string_view> dataKeyOfState(std::string_view state) {
  constexpr std::string_view kPrefix = "readthru:state:{";
  if (!state.starts_with(kPrefix)) return std::nullopt;
  const std::size_t close = state.find("}:", kPrefix.size());
  if (close == std::string_view::npos) return std::nullopt;
  return state.substr(close + 2);
}

std::string stateGlob(std::string_view glob, int slot) {
  std::string out = "readthru:state:{";
  out += slot < 0 ? std::string("*") : slotTag(static_cast<std::uint16_t>(slot));
  out += "}:";
  out += glob;
  return out;
}

}  // namespace readthru::cache
