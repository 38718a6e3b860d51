#include "stack.hpp"

#include <signal.h>
#include <sys/wait.h>

#include "readthru_process.hpp"
#include "redis_server.hpp"

namespace readthru::testing {

bool runStack(const std::string& subcommand, std::chrono::milliseconds timeout) {
  const pid_t pid = spawnProgram(READTHRU_STACK_SCRIPT, {subcommand});
  auto status = reapChild(pid, timeout);
  if (!status) {
    ::kill(pid, SIGKILL);
    reapChild(pid, std::chrono::seconds(5));
    return false;
  }
  return WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
}

}  // namespace readthru::testing
