#include "cache/gutter.hpp"

#include <gtest/gtest.h>

namespace readthru::cache {
namespace {

using namespace std::chrono_literals;
using Clock = Gutter::Clock;

LoadedPtr found(std::string v) {
  auto l = std::make_shared<Loaded>();
  l->kind = Loaded::Kind::kFound;
  l->value = std::move(v);
  return l;
}

std::uint64_t counter(const Gutter& g, const std::string& name) {
  const auto v = metrics::snapshotOf(g).info(name);
  return v ? static_cast<std::uint64_t>(*v) : ~std::uint64_t{0};
}

TEST(Gutter, KeepsValuesForTheTtlOnly) {
  Gutter g({1 << 20, Millis(5000)});
  const auto t0 = Clock::now();
  g.put("k", found("v"), t0);
  ASSERT_NE(g.get("k", t0 + 4s), nullptr);
  EXPECT_EQ(g.get("k", t0 + 4s)->value, "v");
  EXPECT_EQ(g.get("k", t0 + 5s), nullptr);  // expired, and gone
  EXPECT_EQ(counter(g, "gutter_entries"), 0u);
  EXPECT_EQ(counter(g, "gutter_hits"), 2u);
}

TEST(Gutter, NotFoundIsKeptErrorsAreNot) {
  Gutter g({1 << 20, Millis(5000)});
  g.put("none", std::make_shared<Loaded>());
  ASSERT_NE(g.get("none"), nullptr);
  EXPECT_EQ(g.get("none")->kind, Loaded::Kind::kNotFound);
  g.put("bad", Loaded::failed("ERR readthru: load failed"));
  EXPECT_EQ(g.get("bad"), nullptr);
}

TEST(Gutter, BytesCapEvictsOldestFirst) {
  // Each entry costs its key and value plus 64 bytes of overhead: 1 + 100 + 64 = 165.
  Gutter g({400, Millis(60000)});
  const auto t0 = Clock::now();
  g.put("a", found(std::string(100, 'a')), t0);
  g.put("b", found(std::string(100, 'b')), t0 + 1ms);
  g.put("c", found(std::string(100, 'c')), t0 + 2ms);  // 495 > 400: "a" goes
  EXPECT_EQ(g.get("a", t0 + 3ms), nullptr);
  EXPECT_NE(g.get("b", t0 + 3ms), nullptr);
  EXPECT_NE(g.get("c", t0 + 3ms), nullptr);
  EXPECT_EQ(counter(g, "gutter_evictions"), 1u);
  EXPECT_LE(counter(g, "gutter_bytes"), 400u);
  // Too big for the whole gutter: not kept, nothing evicted for it.
  g.put("huge", found(std::string(1000, 'h')), t0 + 4ms);
  EXPECT_EQ(g.get("huge", t0 + 5ms), nullptr);
  EXPECT_NE(g.get("b", t0 + 5ms), nullptr);
}

TEST(Gutter, ReplaceAndEraseKeepTheAccounting) {
  Gutter g({1 << 20, Millis(5000)});
  g.put("k", found("one"));
  g.put("k", found("three"));
  EXPECT_EQ(g.get("k")->value, "three");
  EXPECT_EQ(counter(g, "gutter_entries"), 1u);
  EXPECT_EQ(counter(g, "gutter_bytes"), 1u + 5 + 64);
  g.erase("k");
  EXPECT_EQ(g.get("k"), nullptr);
  EXPECT_EQ(counter(g, "gutter_bytes"), 0u);
}

TEST(Gutter, ZeroBytesTurnsItOff) {
  Gutter g({0, Millis(5000)});
  EXPECT_FALSE(g.enabled());
  g.put("k", found("v"));
  EXPECT_EQ(g.get("k"), nullptr);
}

}  // namespace
}  // namespace readthru::cache
