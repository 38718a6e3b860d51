#include "common/log.hpp"

#include <spdlog/formatter.h>

#include <array>
#include <chrono>
#include <ctime>
#include <memory>

#include "common/json_string.hpp"

namespace readthru {
namespace {

// The config's level names, indexed by spdlog::level::level_enum.
constexpr std::array<std::string_view, 7> kLevelNames{"trace", "debug",    "info", "warn",
                                                      "error", "critical", "off"};

struct FormatName {
  std::string_view name;
  LogFormat format;
};
constexpr std::array kFormats{FormatName{"text", LogFormat::kText},
                              FormatName{"json", LogFormat::kJson}};

class JsonFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch());
    const auto level = static_cast<std::size_t>(msg.level);
    const std::string line =
        jsonLogLine(millis.count(), level < kLevelNames.size() ? kLevelNames[level] : "?",
                    msg.thread_id, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

bool parseLogFormat(std::string_view name, LogFormat& out) {
  for (const FormatName& f : kFormats) {
    if (f.name == name) {
      out = f.format;
      return true;
    }
  }
  return false;
}

std::string_view logFormatName(LogFormat format) {
  for (const FormatName& f : kFormats) {
    if (f.format == format) return f.name;
  }
  return "?";
}

bool isLogLevel(std::string_view level) {
  for (std::string_view name : kLevelNames) {
    if (name == level) return true;
  }
  return false;
}

bool setupLogging(std::string_view level, LogFormat format) {
  if (!isLogLevel(level)) return false;
  spdlog::set_level(spdlog::level::from_str(std::string(level)));
  if (format == LogFormat::kJson) {
    spdlog::set_formatter(std::make_unique<JsonFormatter>());
  } else {
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [%t] %v");
  }
  return true;
}

std::string jsonLogLine(std::int64_t unix_millis, std::string_view level, std::uint64_t thread,
                        std::string_view msg) {
  const std::time_t secs = static_cast<std::time_t>(unix_millis / 1000);
  std::tm utc{};
  gmtime_r(&secs, &utc);
  char ts[40];
  const std::size_t n = std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &utc);
  std::string out = R"({"ts":")";
  out.append(ts, n);
  const auto ms = static_cast<int>(unix_millis % 1000);
  out += {'.', static_cast<char>('0' + ms / 100), static_cast<char>('0' + ms / 10 % 10),
          static_cast<char>('0' + ms % 10), 'Z'};
  out += R"(","level":")";
  out += level;
  out += R"(","thread":)";
  out += std::to_string(thread);
  out += R"(,"msg":")";
  appendJsonString(out, msg);
  out += "\"}\n";
  return out;
}

}  // namespace readthru
