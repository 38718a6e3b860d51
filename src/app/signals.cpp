#include "app/signals.hpp"

#include <csignal>

namespace readthru::app {

Signals::Signals(boost::asio::io_context& io, Hooks hooks)
    : set_(io, SIGINT, SIGTERM, SIGHUP), hooks_(std::move(hooks)) {
  std::signal(SIGPIPE, SIG_IGN);
  wait();
}

void Signals::wait() {
  set_.async_wait([this](boost::system::error_code ec, int signal) {
    if (ec) return;  // cancelled: the signal_set is being destroyed
    if (signal == SIGHUP) {
      if (hooks_.reload) hooks_.reload();
    } else if (hooks_.stop) {
      hooks_.stop(signal);
    }
    wait();
  });
}

const char* signalName(int signal) {
  switch (signal) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "signal";
  }
}

}  // namespace readthru::app
