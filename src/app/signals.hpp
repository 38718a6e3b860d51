#pragma once
// The process's signals, turned into calls on io thread 0: SIGINT and SIGTERM ask for a
// stop (every one of them, so that a second one can cut the drain short), SIGHUP asks for
// a reload. SIGPIPE is ignored: a client that goes away must fail a write, not kill us.

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <functional>

namespace readthru::app {

class Signals {
 public:
  struct Hooks {
    std::function<void(int signal)> stop;  // SIGINT, SIGTERM
    std::function<void()> reload;          // SIGHUP
  };

  // Handles the signals from now on; the hooks run on `io`'s thread.
  Signals(boost::asio::io_context& io, Hooks hooks);

 private:
  void wait();

  boost::asio::signal_set set_;
  Hooks hooks_;
};

// "SIGTERM" for 15: for log lines.
const char* signalName(int signal);

}  // namespace readthru::app
