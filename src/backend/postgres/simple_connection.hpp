#pragma once
// One non-blocking libpq session that runs simple-protocol queries one after another and
// may end in COPY BOTH streaming. The replication protocol (replication=database) accepts
// nothing but simple queries, and describing tables needs nothing more, so this is all the
// CDC side uses; the loader's pipelined Connection is a different animal.
//
// Ownership: held by shared_ptr on one io thread; pending waits keep it alive. The socket
// belongs to libpq: Asio only waits on it. One session per object: after a failure the
// owner makes a new one. Callbacks run from Asio handlers, never inside the call that
// started them, and none runs after close(). They are kept until destruction, so they must
// not own the connection.

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "common/units.hpp"
#include "config/config.hpp"

struct pg_conn;

namespace readthru::backend::postgres {

class SimpleConnection : public std::enable_shared_from_this<SimpleConnection> {
 public:
  struct Options {
    std::string dsn;                // libpq conninfo or URI
    std::string password;           // secret, given to libpq apart; empty: the DSN's
    config::PostgresTlsConfig tls;  // postgres.ssl*: libpq keywords after the DSN
    bool replication = false;       // adds replication=database
    Millis connect_timeout{2000};
    Millis statement_timeout{0};  // the server's statement_timeout; 0: none
  };
  // Rows in text form; nullopt is SQL NULL.
  using Rows = std::vector<std::vector<std::optional<std::string>>>;
  // A query's rows, or the database's error for it (the session stays usable). If the
  // session breaks first, the callback is dropped and the FailureCallback runs instead.
  using RowsCallback = std::function<void(Result<Rows>)>;
  // The session broke (connect failed or timed out, socket error, server closed, the copy
  // stream ended): once, with libpq's or the server's reason on one line.
  using FailureCallback = std::function<void(const std::string& reason)>;
  using DataCallback = std::function<void(std::string_view)>;

  SimpleConnection(boost::asio::io_context& io, Options options, FailureCallback on_failure);
  ~SimpleConnection();
  SimpleConnection(const SimpleConnection&) = delete;
  SimpleConnection& operator=(const SimpleConnection&) = delete;

  // Starts connecting; `on_ready` runs once the session takes queries.
  void connect(std::function<void()> on_ready);

  // Queues one simple query (it may hold several statements; the last result counts).
  // Only after on_ready.
  void query(std::string sql, RowsCallback done);

  // Sends `sql` (START_REPLICATION ...) after the queued queries; once the server answers
  // with COPY BOTH, `on_started` runs and then every CopyData payload goes to `on_data`, in
  // order. A server error for `sql` and the end of the stream are failures.
  void startCopy(std::string sql, std::function<void()> on_started, DataCallback on_data);

  // Queues one CopyData message to the server while copying; false if libpq refused it.
  bool sendCopyData(std::string_view bytes);

  // Flow control while copying (set at any time; it applies once the copy runs): paused,
  // nothing more is read from the socket and on_data is not called, so the server's
  // sends block once the socket buffers are full. Output still goes out. resumeReading()
  // hands out what libpq had buffered, then reads on.
  void pauseReading();
  void resumeReading();

  // Quoted for SQL by libpq with this session's encoding; nullopt if libpq refuses
  // (invalid encoding). Only after on_ready.
  std::optional<std::string> literal(std::string_view text) const;
  std::optional<std::string> identifier(std::string_view text) const;
  // "ARRAY['a', 'b']::text[]", each element a literal().
  std::optional<std::string> textArray(const std::vector<std::string>& items) const;

  // Ends the session; no callback runs afterwards.
  void close();

  bool copying() const { return state_ == State::kCopying; }

 private:
  enum class State { kIdle, kConnecting, kReady, kCopying, kFailed, kClosed };

  struct Pending {
    std::string sql;
    RowsCallback done;  // empty for the copy start
    bool copy = false;
  };

  struct ConnDeleter {
    void operator()(pg_conn* conn) const;
  };

  void waitConnect(bool for_read);
  void pollConnect();
  bool watchSocket();
  void sendNext();
  void waitReadable();
  void onReadable();
  bool drainResults();
  bool drainCopy();
  void flush();
  void fail(const std::string& reason);

  boost::asio::io_context& io_;
  Options options_;
  FailureCallback on_failure_;
  std::function<void()> on_ready_;
  std::function<void()> on_copy_started_;
  DataCallback on_data_;
  std::unique_ptr<pg_conn, ConnDeleter> conn_;
  boost::asio::posix::stream_descriptor socket_;  // wraps PQsocket(); released, never closed
  boost::asio::steady_timer connect_timer_;
  State state_ = State::kIdle;
  std::deque<Pending> queue_;  // front() is on the wire when busy_
  bool busy_ = false;
  std::optional<Result<Rows>> outcome_;  // the running query's last result so far
  bool read_waiting_ = false;
  bool reading_paused_ = false;
  bool write_waiting_ = false;
};

}  // namespace readthru::backend::postgres
