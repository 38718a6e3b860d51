#include "cache/doctor_probe.hpp"

#include <boost/asio/steady_timer.hpp>

namespace readthru::cache {
namespace {

// What each node is asked, and where its answer goes. In this order on one connection.
struct Question {
  std::vector<std::string> args;
  void (*read)(NodeFacts&, const resp::Value&);
};

void readMaxmemory(NodeFacts& f, const resp::Value& v) { readConfig(f, "maxmemory", v); }
void readPolicy(NodeFacts& f, const resp::Value& v) { readConfig(f, "maxmemory-policy", v); }
void readSamples(NodeFacts& f, const resp::Value& v) { readConfig(f, "maxmemory-samples", v); }

const std::vector<Question>& questions() {
  static const std::vector<Question> kQuestions = {
      {{"CONFIG", "GET", "maxmemory"}, readMaxmemory},
      {{"CONFIG", "GET", "maxmemory-policy"}, readPolicy},
      {{"CONFIG", "GET", "maxmemory-samples"}, readSamples},
      {{"INFO", "memory"}, readInfo},
      {{"INFO", "stats"}, readInfo},
      {{"MEMORY", "DOCTOR"}, readMemoryDoctor},
  };
  return kQuestions;
}

}  // namespace

struct DoctorProbe::Run {
  explicit Run(boost::asio::io_context& io) : timer(io) {}
  std::vector<NodeFacts> facts;
  std::vector<std::size_t> unanswered;  // per node
  std::size_t remaining = 0;            // answers still due, all nodes
  bool finished = false;
  boost::asio::steady_timer timer;
  std::vector<KeyspaceTtl> keyspaces;
  CountHistory previous;
  std::shared_ptr<CountHistory> history;
  ReportCallback done;

  void answer(std::size_t node, const Question& q, const resp::Value& v) {
    if (finished) return;  // past the deadline: already reported as not answering
    q.read(facts[node], v);
    --unanswered[node];
    if (--remaining == 0) finish();
  }

  void finish() {
    if (finished) return;
    finished = true;
    timer.cancel();
    for (std::size_t i = 0; i < facts.size(); ++i) {
      if (unanswered[i] > 0 && facts[i].error.empty()) {
        facts[i].error = "no answer within the doctor's deadline (" +
                         std::to_string(unanswered[i]) + " of " +
                         std::to_string(questions().size()) + " questions unanswered)";
      }
    }
    Report r;
    r.findings = judge(facts, keyspaces, previous);
    for (const Finding& f : r.findings) r.warnings += f.severity == Severity::kWarn ? 1 : 0;
    r.text = renderReport(r.findings, facts);
    // Only nodes that answered move the trend's base; the others keep theirs.
    for (auto& [address, counts] : countsOf(facts)) (*history)[address] = counts;
    ReportCallback cb = std::move(done);
    cb(std::move(r));
  }
};

DoctorProbe::DoctorProbe(boost::asio::io_context& io, Backend& redis,
                         std::function<std::vector<KeyspaceTtl>()> keyspaces, Millis deadline)
    : io_(io), redis_(redis), keyspaces_(std::move(keyspaces)), deadline_(deadline) {}

void DoctorProbe::run(ReportCallback done) {
  auto run = std::make_shared<Run>(io_);
  run->keyspaces = keyspaces_ ? keyspaces_() : std::vector<KeyspaceTtl>{};
  run->previous = *history_;
  run->history = history_;
  run->done = std::move(done);
  const std::vector<NodeRef> nodes = redis_.nodes();
  for (const NodeRef& n : nodes) {
    NodeFacts f;
    f.address = n.endpoint.str();
    f.replica = n.replica;
    run->facts.push_back(std::move(f));
  }
  run->unanswered.assign(nodes.size(), questions().size());
  run->remaining = nodes.size() * questions().size();
  if (run->remaining == 0) {
    run->finish();
    return;
  }
  run->timer.expires_after(deadline_);
  run->timer.async_wait([run](boost::system::error_code ec) {
    if (!ec) run->finish();
  });
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    for (const Question& q : questions()) {
      redis_.executeOn(nodes[i], q.args,
                       [run, i, &q](resp::Value v) { run->answer(i, q, std::move(v)); });
    }
  }
}

}  // namespace readthru::cache
