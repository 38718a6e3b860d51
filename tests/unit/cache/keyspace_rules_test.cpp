#include "cache/keyspace_rules.hpp"

#include <gtest/gtest.h>

#include "cache/side_keys.hpp"
#include "command/key_slot.hpp"

namespace readthru::cache {
namespace {

config::KeyspaceConfig rule(std::string name, std::string pattern, std::string query,
                            std::vector<std::string> params) {
  config::KeyspaceConfig ks;
  ks.name = std::move(name);
  ks.origin = "t.yaml:" + std::to_string(ks.name.size());
  ks.pattern = std::move(pattern);
  ks.query = std::move(query);
  ks.params = std::move(params);
  ks.ttl = Millis(1000);
  return ks;
}

std::string buildError(const std::vector<config::KeyspaceConfig>& rules) {
  auto built = KeyspaceRules::build(rules);
  return built ? "" : built.error().message;
}

TEST(KeyspaceRules, MatchesTheOwningKeyspace) {
  auto built = KeyspaceRules::build(
      {rule("user", "user:<id>", "SELECT * FROM users WHERE id = $1", {"id"}),
       rule("order", "order:{<customer>}:<id>", "SELECT $2::int, $1::int", {"customer", "id"})});
  ASSERT_TRUE(built) << built.error().message;
  const KeyspaceRules& rules = **built;
  std::vector<std::string_view> caps;
  const Keyspace* ks = rules.match("order:{7}:42", caps);
  ASSERT_NE(ks, nullptr);
  EXPECT_EQ(ks->name(), "order");
  EXPECT_EQ(caps, (std::vector<std::string_view>{"7", "42"}));
  EXPECT_EQ(ks->paramCaptures(), (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(rules.match("user:1:x", caps), nullptr);
  EXPECT_EQ(rules.match("plain", caps), nullptr);
  EXPECT_EQ(rules.statements().size(), 2u);
  EXPECT_EQ(ks->state(), Keyspace::State::kPending);
}

TEST(KeyspaceRules, StaticChecksNameTheRule) {
  EXPECT_EQ(buildError({rule("a", "a:<", "SELECT 1", {})}),
            "t.yaml:1: keyspace 'a': pattern: '<' without '>' at column 3");
  EXPECT_EQ(buildError({rule("a", "a:<id>", "SELECT $1", {"ix"})}),
            "t.yaml:1: keyspace 'a': params: 'ix' is not a capture of pattern 'a:<id>'");
  EXPECT_EQ(buildError({rule("a", "a:<id>", "SELECT $2", {"id"})}),
            "t.yaml:1: keyspace 'a': query uses $2 as its highest parameter but params lists 1 "
            "capture(s)");
  // '$1' inside a string literal is text, not a parameter.
  EXPECT_EQ(buildError({rule("a", "a:<id>", "SELECT '$1'", {"id"})}),
            "t.yaml:1: keyspace 'a': query uses no $n parameter but params lists 1 capture(s)");
  EXPECT_EQ(buildError({rule("a", "user:<id>", "SELECT $1", {"id"}),
                        rule("bb", "<kind>:42", "SELECT $1", {"kind"})}),
            "t.yaml:2: keyspace 'bb': pattern '<kind>:42' can match the same keys as keyspace "
            "'a' (t.yaml:1, pattern 'user:<id>')");
  auto batch = rule("a", "a:<id>", "SELECT $1", {"id"});
  batch.batch_query = "SELECT $1, $2";
  batch.batch_key = "id";
  EXPECT_EQ(buildError({batch}),
            "t.yaml:1: keyspace 'a': batch_query must use exactly $1 (the array of ids)");
}

StatementShape shape(int params, std::vector<std::string> columns) {
  StatementShape s;
  s.param_count = params;
  for (auto& c : columns) s.columns.push_back({c, ColumnKind::kText});
  return s;
}

TEST(KeyspaceRules, DatabaseShapeDecidesTheState) {
  auto value = rule("v", "v:<id>", "SELECT a FROM t WHERE id = $1", {"id"});
  value.format = config::KeyspaceFormat::kValue;
  auto batched = rule("b", "b:<id>", "SELECT * FROM t WHERE id = $1", {"id"});
  batched.batch_query = "SELECT * FROM t WHERE id = ANY($1)";
  batched.batch_key = "id";
  auto built = KeyspaceRules::build({value, batched});
  ASSERT_TRUE(built);
  KeyspaceRules& rules = **built;
  const Keyspace& v = *rules.keyspaces()[0];
  const Keyspace& b = *rules.keyspaces()[1];

  rules.onPrepared(v.statement(), shape(1, {"a", "b"}));
  EXPECT_EQ(v.state(), Keyspace::State::kFailed);
  EXPECT_EQ(v.failure(), "query returns 2 columns; format value needs exactly 1");
  rules.onPrepared(v.statement(), shape(1, {"a"}));
  EXPECT_EQ(v.state(), Keyspace::State::kReady);
  EXPECT_TRUE(rules.failures().empty());

  // Ready only once both statements are known and fit.
  rules.onPrepared(b.statement(), shape(1, {"id", "name"}));
  EXPECT_EQ(b.state(), Keyspace::State::kPending);
  rules.onPrepared(*b.batchStatement(), shape(1, {"name"}));
  EXPECT_EQ(b.state(), Keyspace::State::kFailed);
  EXPECT_EQ(b.failure(), "batch_key 'id' is not a column of batch_query");
  rules.onPrepared(*b.batchStatement(), Error{"column \"nme\" does not exist"});
  EXPECT_EQ(rules.failures(),
            std::vector<std::string>{
                "t.yaml:1: keyspace 'b': batch_query: column \"nme\" does not exist"});
  rules.onPrepared(*b.batchStatement(), shape(1, {"id", "name"}));
  EXPECT_EQ(b.state(), Keyspace::State::kReady);
}

TEST(SideKeys, ShareTheDataKeysSlot) {
  for (std::string key : {"user:profile:42", "a", "{tag}x", "x}{y", "{}z", "k{", "user:{1234}:9"}) {
    EXPECT_EQ(command::keyHashSlot(stateKey(key)), command::keyHashSlot(key)) << key;
  }
  for (std::uint16_t slot = 0; slot < command::kSlotCount; ++slot) {
    ASSERT_EQ(command::crc16(slotTag(slot)) % command::kSlotCount, slot);
    ASSERT_LE(slotTag(slot).size(), 4u);
  }
  EXPECT_EQ(stateKey("user:1"),
            "readthru:state:{" + slotTag(command::keyHashSlot("user:1")) + "}:user:1");
}

TEST(KeyspaceRules, VersionsTagsAndInvalidateRules) {
  auto versioned = rule("p", "user:profile:<id>", "SELECT id, team FROM t WHERE id = $1", {"id"});
  versioned.version = 2;
  versioned.tags = {"user:<id>", "team:<team>"};
  auto built = KeyspaceRules::build({versioned});
  ASSERT_TRUE(built) << built.error().message;
  KeyspaceRules& rules = **built;
  const Keyspace& p = *rules.keyspaces()[0];
  EXPECT_EQ(p.physicalKey("user:profile:42"), "user:profile:v2:42");
  EXPECT_EQ(p.physicalPattern().glob(), "user:profile:v2:*");
  std::vector<std::string_view> caps;
  EXPECT_EQ(rules.match("user:profile:v2:42", caps), nullptr);  // physical names are not keys
  ASSERT_EQ(p.tags().size(), 2u);
  EXPECT_TRUE(p.tags()[0].from_captures);
  EXPECT_FALSE(p.tags()[1].from_captures);
  // A tag naming neither a capture nor a column disables the rule once the shape is known.
  rules.onPrepared(p.statement(), shape(1, {"id", "name"}));
  EXPECT_EQ(p.state(), Keyspace::State::kFailed);
  EXPECT_EQ(p.failure(),
            "tags: 'team:<team>': <team> is neither a capture of the pattern nor a column of the "
            "query");
  rules.onPrepared(p.statement(), shape(1, {"id", "team"}));
  EXPECT_EQ(p.state(), Keyspace::State::kReady);

  // A version at the start of the key, and one that would overlap another rule.
  auto bare = rule("b", "<id>:card", "SELECT $1", {"id"});
  bare.version = 3;
  auto b = KeyspaceRules::build({bare});
  ASSERT_TRUE(b);
  EXPECT_EQ((*b)->keyspaces()[0]->physicalKey("7:card"), "v3:7:card");
  auto other = rule("o", "user:profile:v2:<id>", "SELECT $1", {"id"});
  EXPECT_EQ(buildError({versioned, other}),
            "t.yaml:1: keyspace 'o': pattern 'user:profile:v2:<id>' can match the same keys as "
            "keyspace 'p' (t.yaml:1, pattern 'user:profile:<id>')");

  auto bad = rule("k", "a:<x>:<y>", "SELECT $1, $2", {"x", "y"});
  bad.invalidate.push_back({"t.yaml:2", "items", {"id"}, {}});
  EXPECT_EQ(buildError({bad}),
            "t.yaml:1: keyspace 'k': invalidate table 'items': key lists 1 column(s) but pattern "
            "'a:<x>:<y>' has 2 capture(s)");
}

}  // namespace
}  // namespace readthru::cache
