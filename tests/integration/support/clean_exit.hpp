#pragma once
// After a test: stop readthru with SIGTERM and check it shut down cleanly, with no
// sanitizer report in its log (in the sanitizer build a report would otherwise only go
// to a log file that ReadthruProcess deletes). Header-only.

#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <string>

#include "readthru_process.hpp"

namespace readthru::testing {

// Empty when readthru exited with status 0 and its log holds no sanitizer report;
// otherwise what went wrong, with the report.
inline std::string stopAndCheckExit(ReadthruProcess& proc) {
  const int status = proc.stop();
  std::ifstream in(proc.logPath());
  std::stringstream log;
  log << in.rdbuf();
  const std::string text = log.str();
  std::string problems;
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"}) {
    const auto at = text.find(marker);
    if (at != std::string::npos) problems += text.substr(at, 2000) + "\n";
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    problems += "readthru exit status " + std::to_string(status) + "\n";
  }
  return problems;
}

}  // namespace readthru::testing
