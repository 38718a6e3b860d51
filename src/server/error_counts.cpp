#include "server/error_counts.hpp"

#include <string>

#include "resp/writer.hpp"

namespace readthru::server {
namespace {

constexpr metrics::Family kErrorReplies{"readthru_error_replies_total", metrics::Kind::kCounter,
                                        "Error replies sent to clients, by their first word."};
constexpr std::size_t kOther = kErrorKinds.size() - 1;

}  // namespace

// As Redis's afterErrorReply: the kind is the text up to the first space; a reply with
// no space in its first 32 bytes counts as ERR.
std::size_t errorKind(std::string_view text) {
  const std::size_t space = text.substr(0, 32).find(' ');  // Redis looks at 32 bytes
  if (space == std::string_view::npos) return 0;
  const std::string_view word = text.substr(0, space);
  for (std::size_t i = 0; i < kOther; ++i) {
    if (kErrorKinds[i] == word) return i;
  }
  return kOther;
}

void appendCountedError(ErrorCounts& counts, std::string& out, std::string_view text) {
  counts.count(text);
  resp::appendError(out, text);
}

std::uint64_t ErrorCounts::total() const {
  std::uint64_t sum = 0;
  for (const metrics::Counter& c : by_kind_) sum += c.value();
  return sum;
}

void ErrorCounts::collect(metrics::Sink& sink) const {
  for (std::size_t i = 0; i < by_kind_.size(); ++i) {
    if (i != 0 && by_kind_[i].value() == 0) continue;
    sink.add(kErrorReplies, by_kind_[i], {{"error", std::string(kErrorKinds[i])}});
  }
}

}  // namespace readthru::server
