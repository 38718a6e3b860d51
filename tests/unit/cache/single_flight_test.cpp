#include "cache/single_flight.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

namespace readthru::cache {
namespace {

LoadedPtr found(std::string value) {
  auto l = std::make_shared<Loaded>();
  l->kind = Loaded::Kind::kFound;
  l->value = std::move(value);
  return l;
}

TEST(SingleFlight, LeadStartsALoadOnlyWhenNoneRuns) {
  boost::asio::io_context io;
  SingleFlight flights;
  auto background = flights.lead("k");
  ASSERT_TRUE(background);
  EXPECT_FALSE(flights.lead("k"));  // one reload at a time
  // A reader that comes meanwhile waits for it, and gets its result.
  std::string got;
  EXPECT_FALSE(flights.join("k", io.get_executor(), [&](const LoadedPtr& l) { got = l->value; }));
  flights.finish(background, found("v"));
  io.run();
  EXPECT_EQ(got, "v");
  EXPECT_EQ(flights.inFlight(), 0u);
  // ...and a load that is running makes lead() stand aside.
  auto reader = flights.join("k", io.get_executor(), [](const LoadedPtr&) {});
  ASSERT_TRUE(reader);
  EXPECT_FALSE(flights.lead("k"));
  flights.finish(reader, found("w"));
  EXPECT_TRUE(flights.lead("k"));
}

}  // namespace
}  // namespace readthru::cache
