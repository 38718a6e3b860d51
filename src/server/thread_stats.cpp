// ThreadStats: the server's metrics of one io thread.

#include "command/command_table.hpp"
#include "server/context.hpp"

namespace readthru::server {
namespace {

using metrics::Family;
using metrics::Kind;

// INFO's Redis sections (# Stats) read these by name; the last three are in its readthru
// section.
constexpr Family kConnectionsReceived{"readthru_connections_received_total", Kind::kCounter,
                                      "Client connections accepted."};
constexpr Family kRejected{"readthru_connections_rejected_total", Kind::kCounter,
                           "Client connections refused at maxclients."};
constexpr Family kCommands{"readthru_commands_processed_total", Kind::kCounter,
                           "Client commands read."};
constexpr Family kInputBytes{"readthru_net_input_bytes_total", Kind::kCounter,
                             "Bytes read from clients."};
constexpr Family kOutputBytes{"readthru_net_output_bytes_total", Kind::kCounter,
                              "Bytes written to clients."};
constexpr Family kProtocolErrors{"readthru_protocol_errors_total", Kind::kCounter,
                                 "Clients dropped for a malformed request.", "protocol_errors"};
constexpr Family kOutputLimit{"readthru_output_limit_disconnects_total", Kind::kCounter,
                              "Clients dropped at listen.output_limit.",
                              "output_limit_disconnects"};
constexpr Family kQueryBufferLimit{"readthru_query_buffer_limit_disconnects_total", Kind::kCounter,
                                   "Clients dropped at listen.query_buffer_limit.",
                                   "query_buffer_limit_disconnects"};
// The second field is INFO's name (readthru section).
constexpr Family kTlsHandshakeFailures{"readthru_tls_handshake_failures_total", Kind::kCounter,
                                       "Client TLS handshakes that failed (not TLS, a bad or "
                                       "missing client certificate).",
                                       "tls_handshake_failures"};
constexpr Family kTlsHandshakeTimeouts{"readthru_tls_handshake_timeouts_total", Kind::kCounter,
                                       "Clients dropped for not finishing their TLS handshake "
                                       "within listen.tls.handshake_timeout.",
                                       "tls_handshake_timeouts"};
constexpr Family kByCommand{"readthru_requests_total", Kind::kCounter,
                            "Client commands by name and result: ok or error for those sent on "
                            "to Redis or the read-through service, local for those readthru "
                            "answers itself."};
constexpr Family kCommandSeconds{"readthru_command_seconds_total", Kind::kCounter,
                                 "Time spent answering client commands sent on, by name "
                                 "(INFO commandstats' usec)."};
constexpr Family kDuration{"readthru_request_duration_seconds", Kind::kHistogram,
                           "Client commands sent on to Redis or the read-through service, from "
                           "dispatch to reply."};

constexpr Family kClients{"readthru_connected_clients", Kind::kGauge,
                          "Client connections open now."};
constexpr Family kMaxClients{"readthru_max_clients", Kind::kGauge, "listen.max_clients."};
constexpr Family kUptime{"readthru_uptime_seconds", Kind::kGauge,
                         "Seconds since readthru started."};
constexpr Family kBuild{"readthru_build_info", Kind::kGauge,
                        "Always 1; the labels say which readthru and which Redis it speaks for."};

}  // namespace

void ContextGauges::collect(metrics::Sink& sink) const {
  sink.add(kClients, static_cast<double>(ctx_.connected_clients.load(std::memory_order_relaxed)));
  sink.add(kMaxClients,
           static_cast<double>(ctx_.limits.max_clients.load(std::memory_order_relaxed)));
  const auto up = std::chrono::system_clock::now() - ctx_.started;
  sink.add(kUptime,
           static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(up).count()));
  sink.add(kBuild, 1,
           {{"version", READTHRU_VERSION}, {"redis_version", std::string(kRedisVersion)}});
}

ThreadStats::ThreadStats() : by_command(command::allCommands().size()) {}

void ThreadStats::collect(metrics::Sink& sink) const {
  sink.add(kConnectionsReceived, connections_received);
  sink.add(kRejected, rejected_connections);
  sink.add(kCommands, commands_processed);
  sink.add(kInputBytes, net_input_bytes);
  sink.add(kOutputBytes, net_output_bytes);
  errors.collect(sink);
  sink.add(kProtocolErrors, protocol_errors);
  sink.add(kOutputLimit, output_limit_disconnects);
  sink.add(kQueryBufferLimit, query_buffer_limit_disconnects);
  sink.add(kTlsHandshakeFailures, tls_handshake_failures);
  sink.add(kTlsHandshakeTimeouts, tls_handshake_timeouts);
  sink.add(kDuration, request_duration);
  // Only commands that ran: 366 names × 3 results of zeros would bury the ones that did.
  const auto all = command::allCommands();
  for (std::size_t i = 0; i < by_command.size(); ++i) {
    const CommandCounts& c = by_command[i];
    const std::string name(all[i].name);
    for (const auto& [result, counter] :
         {std::pair{"ok", &c.ok}, std::pair{"error", &c.error}, std::pair{"local", &c.local}}) {
      if (counter->value() == 0) continue;
      sink.add(kByCommand, *counter, {{"command", name}, {"result", result}});
    }
    if (c.nanos.value() > 0) {
      sink.add(kCommandSeconds, static_cast<double>(c.nanos.value()) / 1e9, {{"command", name}});
    }
  }
}

}  // namespace readthru::server
