#include "common/outage.hpp"

#include <gtest/gtest.h>

#include "common/line_budget.hpp"

namespace readthru {
namespace {

using std::chrono::seconds;
using Say = Outage::Say;

TEST(Outage, OneLineWhenDownOneReminderEveryPeriodOneWhenBack) {
  Outage o(seconds(30));
  const auto t0 = Outage::Clock::time_point{} + seconds(1000);
  EXPECT_EQ(o.succeeded(t0), Say::kNothing);  // no outage: nothing to say
  EXPECT_EQ(o.failed(t0), Say::kDown);
  for (int i = 1; i < 29; ++i) EXPECT_EQ(o.failed(t0 + seconds(i)), Say::kNothing) << i;
  EXPECT_EQ(o.failed(t0 + seconds(30)), Say::kStillDown);
  EXPECT_EQ(o.failures(), 30u);
  EXPECT_EQ(o.downFor(t0 + seconds(30)), seconds(30));
  EXPECT_EQ(o.failed(t0 + seconds(31)), Say::kNothing);  // the next reminder is 30 s on
  EXPECT_EQ(o.failed(t0 + seconds(60)), Say::kStillDown);
  EXPECT_TRUE(o.down());
  EXPECT_EQ(o.succeeded(t0 + seconds(65)), Say::kBack);
  EXPECT_FALSE(o.down());
  EXPECT_EQ(o.failures(), 32u);  // of the outage that ended
  EXPECT_EQ(o.downFor(t0 + seconds(99)), seconds(65));
  EXPECT_EQ(o.succeeded(t0 + seconds(66)), Say::kNothing);
  // A new outage starts from scratch.
  EXPECT_EQ(o.failed(t0 + seconds(70)), Say::kDown);
  EXPECT_EQ(o.failures(), 1u);
}

TEST(LineBudget, AtMostNPerSecondThenSaysHowManyWereHeldBack) {
  LineBudget b(2);
  EXPECT_TRUE(b.admit(100).log);
  EXPECT_TRUE(b.admit(100).log);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(b.admit(100).log);
  const LineBudget::Verdict next = b.admit(101);
  EXPECT_TRUE(next.log);
  EXPECT_EQ(next.suppressed, 5u);
  EXPECT_EQ(b.admit(101).suppressed, 0u);  // said once
  EXPECT_FALSE(b.admit(101).log);
  b.setPerSecond(0);  // off: every line held back, and counted
  EXPECT_FALSE(b.admit(102).log);
  b.setPerSecond(1);
  EXPECT_EQ(b.admit(103).suppressed, 2u);
}

}  // namespace
}  // namespace readthru
