#pragma once
// The doctor's gathering: asks every Redis node of the backend's map (masters and
// replicas) for its memory settings and use, all nodes at once, and hands the facts to
// doctor.hpp's judge(). One deadline for the whole run: a node that has not answered
// everything by then is reported as not answering, never waited for. Keeps the evicted
// and expired counters of the last run, so each report shows their trend.
//
// On one io thread (thread 0), with that thread's Backend. Runs may overlap: each judges
// the counters of the run that finished before it started.

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cache/backend.hpp"
#include "cache/doctor.hpp"
#include "common/units.hpp"

namespace readthru::cache {

class DoctorProbe {
 public:
  struct Report {
    std::string text;  // renderReport()'s
    std::size_t warnings = 0;
    std::vector<Finding> findings;
  };
  using ReportCallback = std::function<void(Report)>;

  // `keyspaces` gives the keyspaces' TTLs at the time of each run (a reload may change
  // them). `deadline`: how long a run waits for the nodes.
  DoctorProbe(boost::asio::io_context& io, Backend& redis,
              std::function<std::vector<KeyspaceTtl>()> keyspaces, Millis deadline);

  // Asks, judges, and calls `done` once on this thread, by the deadline at the latest.
  void run(ReportCallback done);

 private:
  struct Run;

  boost::asio::io_context& io_;
  Backend& redis_;
  std::function<std::vector<KeyspaceTtl>()> keyspaces_;
  Millis deadline_;
  // Shared with the runs in flight, which may outlive nothing but need it at their end.
  std::shared_ptr<CountHistory> history_ = std::make_shared<CountHistory>();
};

}  // namespace readthru::cache
