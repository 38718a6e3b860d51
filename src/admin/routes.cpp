#include "admin/routes.hpp"

#include <array>

namespace readthru::admin {
namespace {

Response metricsPage(const Handlers& h) {
  return {200, "text/plain; version=0.0.4; charset=utf-8", h.metrics(), {}};
}
Response healthz(const Handlers&) { return {200, "text/plain; charset=utf-8", "ok\n", {}}; }
Response readyz(const Handlers& h) {
  const Readiness r = h.readiness();
  return {r.ready ? 200 : 503, "text/plain; charset=utf-8", r.reason + "\n", {}};
}
Response statusPage(const Handlers& h) {
  return {200, "text/html; charset=utf-8", h.status_page(), {}};
}

struct Route {
  std::string_view path;
  Response (*answer)(const Handlers&);
};

constexpr std::array kRoutes{
    Route{"/metrics", metricsPage},
    Route{"/healthz", healthz},
    Route{"/readyz", readyz},
    Route{"/", statusPage},
};

}  // namespace

Response route(std::string_view method, std::string_view target, const Handlers& h) {
  const std::string_view path = target.substr(0, target.find('?'));
  for (const Route& r : kRoutes) {
    if (r.path != path) continue;
    if (method != "GET" && method != "HEAD") {
      return {405, "text/plain; charset=utf-8", "only GET and HEAD\n", "GET, HEAD"};
    }
    return r.answer(h);
  }
  return {404,
          "text/plain; charset=utf-8",
          "not found: the admin port serves /metrics, /healthz, /readyz and /\n",
          {}};
}

}  // namespace readthru::admin
