#include "redis_server.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "client.hpp"
#include "eventually.hpp"
#include "readthru_process.hpp"

namespace readthru::testing {
namespace {

using namespace std::chrono_literals;

bool answersPing(std::uint16_t port) {
  try {
    Client c(port);
    c.send({"PING"});
    const std::string pong = show(c.read(500ms));
    return pong == "PONG" || pong.rfind("(error) NOAUTH", 0) == 0;  // up, with requirepass
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

pid_t spawnProgram(const std::string& program, const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    for (int fd = 3; fd < 4096; ++fd) ::close(fd);
    ::execvp(program.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

pid_t spawnRedisServer(const std::vector<std::string>& args) {
  return spawnProgram("redis-server", args);
}

RedisServer::RedisServer(std::vector<std::string> extra_args)
    : port_(freePort()), extra_args_(std::move(extra_args)) {
  start();
}

RedisServer::~RedisServer() {
  if (pid_ > 0) kill();
}

void RedisServer::start() {
  const std::string port = std::to_string(port_);
  std::vector<std::string> args{"--port",     port,           "--bind", "127.0.0.1",   "--save",
                                "",           "--appendonly", "no",     "--daemonize", "no",
                                "--loglevel", "warning",      "--dir",  "/tmp"};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  pid_ = spawnRedisServer(args);
  paused_ = false;
  if (!eventually([this] { return answersPing(port_); }, 10s)) {
    kill();
    throw std::runtime_error("redis-server on port " + port + " did not answer PING in 10s");
  }
}

void RedisServer::pause() {
  ::kill(pid_, SIGSTOP);
  paused_ = true;
}

void RedisServer::resume() {
  ::kill(pid_, SIGCONT);
  paused_ = false;
}

void RedisServer::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  if (paused_) ::kill(pid_, SIGCONT);
  if (!reapChild(pid_, 10s)) throw std::runtime_error("redis-server did not exit after SIGKILL");
  pid_ = -1;
  paused_ = false;
}

}  // namespace readthru::testing
