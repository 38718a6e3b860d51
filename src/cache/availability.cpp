#include "cache/availability.hpp"

#include <string_view>

#include "common/fault.hpp"

namespace readthru::cache {
namespace {

// Redis's error kinds for "cannot serve now" (src/server.c, src/cluster.c).
constexpr std::string_view kUnavailableKinds[] = {"CLUSTERDOWN", "LOADING", "MASTERDOWN",
                                                  "TRYAGAIN"};

std::string_view errorKind(const std::string& text) {
  const auto space = text.find(' ');
  return std::string_view(text).substr(0, space);
}

}  // namespace

bool cacheUnavailable(const resp::Value& v) {
  if (!v.isError()) return false;
  if (v.isFault()) return isCacheDown(faultOf(v.fault));
  const std::string_view kind = errorKind(v.str);
  for (std::string_view k : kUnavailableKinds) {
    if (kind == k) return true;
  }
  return false;
}

}  // namespace readthru::cache
