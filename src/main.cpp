// readthru: a read-through caching proxy that speaks the Redis protocol.
// Flags only; everything else is built by app::Application from the config.

#include <cstring>
#include <iostream>
#include <string>

#include "app/application.hpp"
#include "common/log.hpp"
#include "config/config.hpp"

namespace {

constexpr int kExitConfigError = 2;

void usage(std::ostream& out) {
  out << "Usage: readthru [--config FILE] [--check-config] [--version] [--help]\n"
         "\n"
         "  --config FILE    configuration file (default: config/readthru.yaml)\n"
         "  --check-config   validate the configuration and exit (0: valid, 2: not)\n"
         "  --version        print the version and exit\n"
         "  --help           print this help and exit\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string path = "config/readthru.yaml";
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      path = arg.substr(9);
    } else if (arg == "--check-config") {
      check_only = true;
    } else if (arg == "--version") {
      std::cout << "readthru " << READTHRU_VERSION << "\n";
      return 0;
    } else if (arg == "--help" || arg == "-h") {
      usage(std::cout);
      return 0;
    } else {
      std::cerr << "readthru: unknown option '" << arg << "'\n";
      usage(std::cerr);
      return kExitConfigError;
    }
  }

  readthru::config::Config cfg;
  try {
    cfg = readthru::config::loadFile(path);
  } catch (const readthru::config::ConfigError& e) {
    std::cerr << "readthru: config error: " << e.what() << "\n";
    return kExitConfigError;
  }
  if (auto problem = readthru::app::Application::check(cfg)) {
    std::cerr << "readthru: config error: " << *problem << "\n";
    return kExitConfigError;
  }
  if (check_only) {
    std::cout << "readthru: " << path << " is valid\n";
    return 0;
  }
  readthru::setupLogging(cfg.log.level, cfg.log.format);
  return readthru::app::Application(std::move(cfg)).run();
}
