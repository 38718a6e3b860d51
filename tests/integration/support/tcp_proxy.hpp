#pragma once
// A TCP forwarder for fault tests: readthru connects to the proxy, the proxy to the real
// server. The test flips its mode to make the server look down or hung without touching
// the shared stack. One background thread; every socket closes with the proxy.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace readthru::testing {

class TcpProxy {
 public:
  enum class Mode {
    kForward,    // bytes flow both ways
    kClosed,     // existing connections are closed, new ones closed at once
    kBlackhole,  // connections stay open, nothing is forwarded (a hung server); see setMode
  };

  explicit TcpProxy(std::uint16_t target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  std::uint16_t port() const { return port_; }

  // Switches the mode and returns once the proxy thread has applied it: every byte read
  // from then on is handled in the new mode, and the closes it implies are done.
  // Going back to kForward closes each connection that swallowed bytes in kBlackhole
  // (its byte stream is broken; forwarding again would hand the peers garbage), so the
  // client sees the connection drop and reconnects; connections that lost nothing, and
  // new ones, are forwarded. Throws if the thread does not apply the mode within seconds
  // (it blocks only while writing to a peer that does not read).
  void setMode(Mode mode);

 private:
  void run();

  std::uint16_t target_port_;
  std::uint16_t port_ = 0;
  int listener_ = -1;
  Mode mode_ = Mode::kForward;  // guarded by mutex_
  std::atomic<bool> stop_{false};
  // setMode() waits until the thread has started a round with the newest mode.
  std::mutex mutex_;
  std::condition_variable applied_cv_;
  std::uint64_t requested_ = 0;  // guarded by mutex_
  std::uint64_t applied_ = 0;    // guarded by mutex_
  std::thread thread_;
};

}  // namespace readthru::testing
