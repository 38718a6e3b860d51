#include "app/drain.hpp"

#include "app/runtime.hpp"
#include "app/service_state.hpp"
#include "app/signals.hpp"
#include "common/log.hpp"
#include "server/server.hpp"

namespace readthru::app {

Drain::Drain(Runtime& runtime, ServiceState& service, Millis timeout)
    : runtime_(runtime), service_(service), timeout_(timeout), timer_(runtime.mainIo()) {}

void Drain::onSignal(int signal) {
  switch (state_) {
    case State::kServing:
      begin(signal);
      return;
    case State::kDraining:
      cut("by a second signal", 1);
      return;
    case State::kCutting:
    case State::kDone:
      return;  // already on the way out
  }
}

void Drain::begin(int signal) {
  state_ = State::kDraining;
  started_ = std::chrono::steady_clock::now();
  runtime_.context().draining.store(true, std::memory_order_relaxed);
  const int clients = runtime_.context().connected_clients.load(std::memory_order_relaxed);
  spdlog::info(
      "{}: draining {} client(s) for up to {}ms (listen.drain_timeout); a second signal stops "
      "at once",
      signalName(signal), clients, timeout_.count());
  service_.onDrainStarted();
  runtime_.stopInputs();
  runtime_.server().drain([this] { drained(); });
  timer_.expires_after(timeout_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec && state_ == State::kDraining) cut("when listen.drain_timeout passed", 0);
  });
}

void Drain::drained() {
  if (state_ != State::kDraining) return;  // cut() is already closing what was left
  spdlog::info("drain done in {}ms: every client was answered what it had sent, then closed",
               elapsedMs());
  finish();
}

void Drain::cut(const char* why, int exit_code) {
  state_ = State::kCutting;
  exit_code_ = exit_code;
  timer_.cancel();
  runtime_.server().closeClients([this, why](server::DrainCut cut) {
    spdlog::info(
        "drain ended {} after {}ms: closed {} client(s) with {} reply(ies) unanswered and {} "
        "byte(s) unsent",
        why, elapsedMs(), cut.clients, cut.replies, cut.unsent);
    finish();
  });
}

void Drain::finish() {
  state_ = State::kDone;
  timer_.cancel();
  runtime_.stopThreads();
}

long long Drain::elapsedMs() const {
  return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started_).count();
}

}  // namespace readthru::app
