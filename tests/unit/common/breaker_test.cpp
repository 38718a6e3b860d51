#include "common/breaker.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace readthru {
namespace {

using State = Breaker::State;
using namespace std::chrono_literals;

BreakerOptions options(int consecutive = 5) {
  BreakerOptions o;
  o.consecutive_failures = consecutive;
  o.open_time = Millis(10000);
  o.max_open_time = Millis(40000);
  return o;
}

TEST(Breaker, OpensAfterConsecutiveFailuresOnly) {
  Breaker b("n:1", options(5));
  for (int i = 0; i < 4; ++i) b.onFailure();
  b.onSuccess();  // a success breaks the run
  for (int i = 0; i < 4; ++i) b.onFailure();
  EXPECT_TRUE(b.allows());
  EXPECT_EQ(b.opened(), 0u);
  b.onFailure();
  EXPECT_FALSE(b.allows());
  EXPECT_EQ(b.state(), State::kOpen);
  EXPECT_EQ(b.opened(), 1u);
  // More failures while open change nothing.
  b.onFailure();
  EXPECT_EQ(b.opened(), 1u);
}

TEST(Breaker, ZeroTurnsTheConsecutiveRuleOff) {
  Breaker b("n:1", options(0));
  for (int i = 0; i < 1000; ++i) b.onFailure();
  EXPECT_TRUE(b.allows());
}

TEST(Breaker, ProbeOnlyAfterTheOpenTimeAndOnlyOnce) {
  Breaker b("n:1", options(1));
  b.onFailure();
  const auto now = Breaker::Clock::now();
  EXPECT_FALSE(b.takeProbe(now));  // open for at least half of 10 s
  const auto later = now + 11s;
  EXPECT_TRUE(b.takeProbe(later));
  EXPECT_EQ(b.state(), State::kHalfOpen);
  EXPECT_FALSE(b.allows());          // requests still fail fast while the probe runs
  EXPECT_FALSE(b.takeProbe(later));  // one probe at a time
  b.onProbe(true);
  EXPECT_EQ(b.state(), State::kClosed);
  EXPECT_TRUE(b.allows());
}

TEST(Breaker, FailedProbeReopensForLonger) {
  Breaker b("n:1", options(1));
  b.onFailure();
  ASSERT_TRUE(b.takeProbe(Breaker::Clock::now() + 11s));
  b.onProbe(false);
  EXPECT_EQ(b.state(), State::kOpen);
  EXPECT_EQ(b.opened(), 2u);
  // The second period is 20 s with jitter, so at least 10 s: not yet over after 9 s.
  EXPECT_FALSE(b.takeProbe(Breaker::Clock::now() + 9s));
  EXPECT_TRUE(b.takeProbe(Breaker::Clock::now() + 21s));
  b.onProbe(true);
  // Closing resets the run: the next trip starts again from open_time.
  b.onFailure();
  EXPECT_TRUE(b.takeProbe(Breaker::Clock::now() + 11s));
}

TEST(Breaker, TripIsTheRateRule) {
  Breaker b("n:1", options(0));
  b.trip("failure rate");
  EXPECT_FALSE(b.allows());
  b.trip("failure rate");
  EXPECT_EQ(b.opened(), 1u);
}

TEST(Breaker, ThreadsAgreeOnOneTransition) {
  Breaker b("n:1", options(5));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) b.onFailure();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(b.opened(), 1u);
  int probes = 0;
  std::vector<std::thread> probers;
  std::atomic<int> won{0};
  for (int t = 0; t < 4; ++t) {
    probers.emplace_back([&] {
      if (b.takeProbe(Breaker::Clock::now() + 60s)) won.fetch_add(1);
    });
  }
  for (auto& t : probers) t.join();
  probes = won.load();
  EXPECT_EQ(probes, 1);
}

TEST(Breaker, ALostProbeIsGivenUpOnAfterProbeTimeout) {
  BreakerOptions o = options(1);
  o.probe_timeout = Millis(3000);
  Breaker b("n:1", o);
  b.onFailure();
  const auto later = Breaker::Clock::now() + 11s;
  ASSERT_TRUE(b.takeProbe(later));
  // Its caller never reports; until probe_timeout passes nobody else probes...
  EXPECT_FALSE(b.takeProbe(later + 2s));
  // ...then exactly one caller does, and its answer decides.
  EXPECT_TRUE(b.takeProbe(later + 4s));
  EXPECT_FALSE(b.takeProbe(later + 4s));
  b.onProbe(true);
  EXPECT_TRUE(b.allows());
}

}  // namespace
}  // namespace readthru
