#pragma once
// The shared stack's own controls (scripts/stack), for fault tests that take a part of it
// away and bring it back. Such a test holds that part's lock (tests/CMakeLists.txt) and
// runs under `flock /tmp/readthru-stack.lock`, so these commands take no lock themselves.

#include <chrono>
#include <string>

namespace readthru::testing {

// Runs `scripts/stack <subcommand>` (pg-stop, pg-start, status) as a child holding none of
// our descriptors, and waits up to `timeout` for it: true when it exited 0. One that runs
// longer is killed, and the answer is false.
bool runStack(const std::string& subcommand, std::chrono::milliseconds timeout);

}  // namespace readthru::testing
