#pragma once
// What the admin port answers, as a table of paths, apart from the HTTP I/O
// (http_server.hpp) so that it is tested without a socket.
//
//   GET /metrics  Prometheus text format (version 0.0.4)
//   GET /healthz  200 "ok" while the process serves at all
//   GET /readyz   200 "ready", or 503 with the reason: send traffic or not
//   GET /         the status page
// HEAD is answered as GET without the body; other methods get 405, other paths 404.

#include <functional>
#include <string>
#include <string_view>

#include "admin/readiness.hpp"

namespace readthru::admin {

struct Handlers {
  std::function<std::string()> metrics;      // Prometheus text
  std::function<Readiness()> readiness;      // cheap: a snapshot
  std::function<std::string()> status_page;  // HTML
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::string allow;  // for 405
};

// `target` is the request target as sent ("/metrics?x=1" routes as "/metrics").
Response route(std::string_view method, std::string_view target, const Handlers& h);

}  // namespace readthru::admin
