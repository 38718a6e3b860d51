#include "common/fault.hpp"

#include <gtest/gtest.h>

#include "common/result.hpp"

namespace readthru {
namespace {

TEST(Fault, CodesCarryTheirFaultAndNothingElseDoes) {
  const std::error_code timeout = Fault::kTimeout;
  EXPECT_EQ(faultOf(timeout), Fault::kTimeout);
  EXPECT_EQ(timeout.category().name(), std::string("readthru"));
  EXPECT_EQ(faultOf(std::error_code{}), Fault::kNone);
  // A code of another category is not a fault, whatever its number.
  EXPECT_EQ(faultOf(std::make_error_code(std::errc::timed_out)), Fault::kNone);
  EXPECT_EQ(faultOf(std::error_code(3, std::generic_category())), Fault::kNone);
}

TEST(Fault, TextIsComposedFromSubjectFaultAndDetail) {
  EXPECT_EQ(faultText(Fault::kTimeout, "backend 127.0.0.1:7000", "no reply within 1000ms"),
            "ERR readthru: backend 127.0.0.1:7000 timed out (no reply within 1000ms)");
  EXPECT_EQ(faultText(Fault::kUnreachable, "backend h:1"),
            "ERR readthru: backend h:1 is unreachable");
  // Redis's own error kind where a client library looks for it.
  EXPECT_EQ(faultText(Fault::kNoNode, "no node serves slot 9"),
            "CLUSTERDOWN readthru: no node serves slot 9");
}

TEST(Fault, ClassesDecideOnCodes) {
  for (Fault f : {Fault::kUnreachable, Fault::kConnectionLost, Fault::kTimeout, Fault::kBreakerOpen,
                  Fault::kQueueFull, Fault::kNoNode}) {
    EXPECT_TRUE(isCacheDown(f)) << faultName(f);
    EXPECT_FALSE(isDatabaseDown(f)) << faultName(f);
  }
  for (Fault f : {Fault::kDatabaseDown, Fault::kStatementTimeout, Fault::kLoadQueueFull,
                  Fault::kNotPrepared, Fault::kLoaderStopped}) {
    EXPECT_TRUE(isDatabaseDown(f)) << faultName(f);
    EXPECT_FALSE(isCacheDown(f)) << faultName(f);
  }
  EXPECT_FALSE(isCacheDown(Fault::kNone));
  // A request deadline is neither: it is the reader's own bound, not a server's state.
  EXPECT_FALSE(isCacheDown(Fault::kDeadline));
  EXPECT_FALSE(isDatabaseDown(Fault::kDeadline));
  EXPECT_FALSE(isDatabaseDown(Fault::kNone));
}

TEST(Fault, EveryFaultHasItsOwnName) {
  const Fault all[] = {Fault::kUnreachable,      Fault::kConnectionLost, Fault::kTimeout,
                       Fault::kBreakerOpen,      Fault::kQueueFull,      Fault::kNoNode,
                       Fault::kShuttingDown,     Fault::kDeadline,       Fault::kDatabaseDown,
                       Fault::kStatementTimeout, Fault::kLoadQueueFull,  Fault::kNotPrepared,
                       Fault::kLoaderStopped};
  for (Fault a : all) {
    EXPECT_NE(faultName(a), "none");
    for (Fault b : all) {
      if (a != b) {
        EXPECT_NE(faultName(a), faultName(b));
      }
    }
  }
}

TEST(Fault, ErrorsKeepTheirCodeBesideTheMessage) {
  Result<int> r = Error{"statement timeout", Fault::kStatementTimeout};
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(faultOf(r.error().code), Fault::kStatementTimeout);
  Result<int> refused = Error{"syntax error"};
  EXPECT_EQ(faultOf(refused.error().code), Fault::kNone);
}

}  // namespace
}  // namespace readthru
