#include "cache/generation_slot.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

namespace readthru::cache {
namespace {

// A loader that records whether it was stopped and counts its queries.
class FakeLoader : public SourceLoader {
 public:
  void query(std::size_t, std::vector<std::string>, RowsCallback) override { ++queries; }
  void stop() override { stopped = true; }
  void collect(metrics::Sink& sink) const override {
    static constexpr metrics::Family kQueries{"readthru_pg_queries_total", metrics::Kind::kCounter,
                                              "test", "pg_queries"};
    sink.add(kQueries, static_cast<double>(queries));
  }
  std::uint64_t queries = 0;
  bool stopped = false;
};

std::shared_ptr<KeyspaceRules> rules(const std::string& name) {
  config::KeyspaceConfig ks;
  ks.name = name;
  ks.origin = "t.yaml:1";
  ks.pattern = name + ":<id>";
  ks.query = "SELECT $1::int";
  ks.params = {"id"};
  ks.ttl = Millis(1000);
  auto built = KeyspaceRules::build({ks});
  EXPECT_TRUE(built);
  return *built;
}

std::uint64_t counter(const GenerationSlot& slot, const std::string& name) {
  return static_cast<std::uint64_t>(metrics::snapshotOf(slot).info(name).value_or(0));
}

// Runs the io context through a few sweeps.
void sweeps(boost::asio::io_context& io) {
  io.restart();
  io.run_for(GenerationSlot::kSweepEvery * 3);
}

TEST(GenerationSlot, AHeldGenerationKeepsItsLoaderUntilReleased) {
  boost::asio::io_context io;
  auto first = std::make_shared<FakeLoader>();
  first->queries = 5;
  GenerationSlot slot(io, rules("a"), first);
  GenerationPtr held = slot.current();  // a request under way

  auto second = std::make_shared<FakeLoader>();
  slot.install(rules("b"), second);
  EXPECT_NE(slot.current()->keyspace("b"), nullptr);
  EXPECT_EQ(slot.current()->keyspace("a"), nullptr);
  EXPECT_NE(held->keyspace("a"), nullptr);  // the request still sees its rules

  sweeps(io);
  EXPECT_FALSE(first->stopped) << "a request still holds it";
  EXPECT_EQ(counter(slot, "pg_queries"), 5u);  // counted while it is retired, once

  held.reset();
  sweeps(io);
  EXPECT_TRUE(first->stopped);
  EXPECT_FALSE(second->stopped);
  second->queries = 2;
  EXPECT_EQ(counter(slot, "pg_queries"), 7u) << "the gone loader's count is kept";
}

TEST(GenerationSlot, ASharedLoaderStaysWithTheNewGeneration) {
  boost::asio::io_context io;
  auto loader = std::make_shared<FakeLoader>();
  loader->queries = 3;
  GenerationSlot slot(io, rules("a"), loader);
  slot.install(rules("a"), slot.current()->loader());  // same SQL: the pools stay
  sweeps(io);
  EXPECT_FALSE(loader->stopped);
  EXPECT_EQ(counter(slot, "pg_queries"), 3u) << "counted once";
  slot.stop();
  EXPECT_TRUE(loader->stopped);
}

}  // namespace
}  // namespace readthru::cache
