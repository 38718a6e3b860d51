#pragma once
// A test suite whose tests share one readthru process in cluster mode, started before the
// suite's first test and stopped after its last (ReadthruProcess's destructor fails the
// suite if readthru does not exit cleanly). Suites run one after another, so the one
// static slot serves every suite derived from it.

#include <gtest/gtest.h>

#include "readthru_process.hpp"

namespace readthru::testing {

class SharedClusterReadthru : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { proc_ = new ReadthruProcess(clusterBackend()); }
  static void TearDownTestSuite() {
    delete proc_;
    proc_ = nullptr;
  }
  static inline ReadthruProcess* proc_ = nullptr;
};

}  // namespace readthru::testing
