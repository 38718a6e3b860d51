#pragma once
// The open client sessions of one io thread, so that a stop can reach every one of them:
// drain() asks each to finish what it has read and close, closeAll() closes them at once.
// One per io thread (ServerContext::sessions); used only on that thread, so no lock.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <unordered_set>

namespace readthru::server {

class Session;

// What closing clients before their replies were sent left undone.
struct DrainCut {
  std::size_t clients = 0;   // connections closed with work outstanding
  std::size_t replies = 0;   // requests read but not answered (or answered behind one)
  std::uint64_t unsent = 0;  // reply bytes made but not yet written
  DrainCut& operator+=(const DrainCut& o) {
    clients += o.clients;
    replies += o.replies;
    unsent += o.unsent;
    return *this;
  }
};

class SessionList {
 public:
  // A session registers when it starts and leaves when its socket closes.
  void add(Session& session);
  void remove(Session& session);

  // True once drain() or closeAll() ran: a session that starts now must close at once.
  bool draining() const { return draining_; }
  std::size_t size() const { return open_.size(); }

  // Every open session stops reading and closes after its last reply. `on_empty` runs
  // once, on this thread, when no session is open any more (at once when none is).
  void drain(std::function<void()> on_empty);

  // Closes every session still open, now, and returns what they still owed. The drain's
  // `on_empty` is dropped: whoever closes everything already knows it is done.
  DrainCut closeAll();

 private:
  std::unordered_set<Session*> open_;
  bool draining_ = false;
  std::function<void()> on_empty_;
};

}  // namespace readthru::server
