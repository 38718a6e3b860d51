#pragma once
// A TCP forwarder for fault tests: readthru connects to the proxy, the proxy to the real
// server. The test flips its mode to make the server look down or hung without touching
// the shared stack. One background thread; every socket closes with the proxy.

#include <atomic>
#include <cstdint>
#include <thread>

namespace readthru::testing {

class TcpProxy {
 public:
  enum class Mode {
    kForward,    // bytes flow both ways
    kClosed,     // existing connections are closed, new ones closed at once
    kBlackhole,  // connections stay open, nothing is forwarded (a hung server)
  };

  explicit TcpProxy(std::uint16_t target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  std::uint16_t port() const { return port_; }
  void setMode(Mode mode) { mode_.store(mode); }

 private:
  void run();

  std::uint16_t target_port_;
  std::uint16_t port_ = 0;
  int listener_ = -1;
  std::atomic<Mode> mode_{Mode::kForward};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace readthru::testing
