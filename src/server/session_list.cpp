#include "server/session_list.hpp"

#include <vector>

#include "server/session.hpp"

namespace readthru::server {

void SessionList::add(Session& session) { open_.insert(&session); }

void SessionList::remove(Session& session) {
  if (open_.erase(&session) == 0) return;
  if (open_.empty() && on_empty_) {
    auto done = std::move(on_empty_);
    on_empty_ = nullptr;
    done();
  }
}

void SessionList::drain(std::function<void()> on_empty) {
  draining_ = true;
  on_empty_ = std::move(on_empty);
  // A session with nothing outstanding closes inside drain(), which removes it: walk a
  // copy, and skip any that a previous one's close took away.
  const std::vector<Session*> sessions(open_.begin(), open_.end());
  for (Session* s : sessions) {
    if (open_.count(s) != 0) s->drain();
  }
  if (open_.empty() && on_empty_) {
    auto done = std::move(on_empty_);
    on_empty_ = nullptr;
    done();
  }
}

DrainCut SessionList::closeAll() {
  draining_ = true;
  on_empty_ = nullptr;
  DrainCut cut;
  const std::vector<Session*> sessions(open_.begin(), open_.end());
  for (Session* s : sessions) {
    if (open_.count(s) == 0) continue;
    ++cut.clients;
    cut.replies += s->repliesOwed();
    cut.unsent += s->bytesUnsent();
    s->close();
  }
  return cut;
}

}  // namespace readthru::server
