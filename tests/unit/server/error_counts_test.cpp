#include "server/error_counts.hpp"

#include <gtest/gtest.h>

#include <string>

namespace readthru::server {
namespace {

std::string_view kindOf(std::string_view text) { return kErrorKinds[errorKind(text)]; }

TEST(ErrorKind, TheFirstWordAsRedisCountsIt) {
  EXPECT_EQ(kindOf("ERR unknown command 'x'"), "ERR");
  EXPECT_EQ(kindOf("WRONGTYPE Operation against a key holding the wrong kind of value"),
            "WRONGTYPE");
  EXPECT_EQ(kindOf("MOVED 3999 127.0.0.1:6381"), "MOVED");
  EXPECT_EQ(kindOf("NOAUTH Authentication required."), "NOAUTH");
}

TEST(ErrorKind, NoSpaceInTheFirst32BytesIsErrAndAnUnknownWordIsOther) {
  EXPECT_EQ(kindOf("OOPS"), "ERR");
  EXPECT_EQ(kindOf(std::string(40, 'A') + " tail"), "ERR");
  EXPECT_EQ(kindOf("MYCODE custom"), "OTHER");
  EXPECT_EQ(kindOf("err lowercase is not ERR"), "OTHER");  // Redis's kinds are case-sensitive
}

TEST(ErrorCounts, CollectsEveryKindSeenAndErrAlways) {
  ErrorCounts counts;
  metrics::Snapshot empty;
  {
    metrics::Sink sink(empty);
    counts.collect(sink);
  }
  EXPECT_EQ(empty.value("readthru_error_replies_total", {"error", "ERR"}), 0);
  ASSERT_NE(empty.find("readthru_error_replies_total"), nullptr);
  EXPECT_EQ(empty.find("readthru_error_replies_total")->series.size(), 1u);

  counts.count("ERR x");
  counts.count("WRONGTYPE y");
  counts.count("WRONGTYPE z");
  EXPECT_EQ(counts.total(), 3u);
  metrics::Snapshot snap;
  {
    metrics::Sink sink(snap);
    counts.collect(sink);
  }
  EXPECT_EQ(snap.value("readthru_error_replies_total", {"error", "WRONGTYPE"}), 2);
  EXPECT_EQ(snap.total("readthru_error_replies_total"), 3);
}

}  // namespace
}  // namespace readthru::server
