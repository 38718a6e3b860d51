#include "cache/change_mapper.hpp"

#include <gtest/gtest.h>

namespace readthru::cache {
namespace {

using Row = std::vector<std::optional<std::string>>;

config::KeyspaceConfig rule(std::string name, std::string pattern,
                            std::vector<std::string> params) {
  config::KeyspaceConfig ks;
  ks.name = std::move(name);
  ks.origin = "t.yaml:1";
  ks.pattern = std::move(pattern);
  ks.query = params.size() == 2 ? "SELECT $1, $2" : "SELECT $1";
  ks.params = std::move(params);
  ks.ttl = Millis(1000);
  return ks;
}

std::shared_ptr<const KeyspaceRules> buildRules() {
  auto users = rule("users", "user:<id>", {"id"});
  users.invalidate.push_back({"t.yaml:2", "users", {"id"}, {}});
  users.invalidate.push_back({"t.yaml:3", "app.memberships", {}, {"team:<team_id>"}});
  auto orders = rule("orders", "order:{<customer>}:<id>", {"customer", "id"});
  orders.invalidate.push_back({"t.yaml:4", "orders", {"customer_id", "id"}, {}});
  auto built = KeyspaceRules::build({users, orders});
  EXPECT_TRUE(built) << built.error().message;
  return *built;
}

RowChange change(RowChange::Op op, std::string table, std::vector<std::string> cols, Row next,
                 Row old = {}) {
  RowChange c;
  c.op = op;
  c.table = std::move(table);
  c.columns = std::move(cols);
  c.new_row = std::move(next);
  c.old_row = std::move(old);
  return c;
}

TEST(ChangeMapper, MapsRowsToKeysAndTags) {
  ChangeMapper m(buildRules());
  EXPECT_EQ(m.tables(), (std::vector<std::string>{"app.memberships", "orders", "users"}));
  Transaction txn;
  txn.changes.push_back(change(RowChange::Op::kInsert, "public.users", {"id", "name"}, {"1", "a"}));
  // An update that moves the row: the old key (from the identity) and the new one.
  txn.changes.push_back(change(RowChange::Op::kUpdate, "public.users", {"id", "name"}, {"3", "b"},
                               {"2", std::nullopt}));
  txn.changes.push_back(
      change(RowChange::Op::kDelete, "app.memberships", {"user_id", "team_id"}, {}, {"9", "7"}));
  txn.changes.push_back(change(RowChange::Op::kInsert, "public.orders",
                               {"id", "customer_id", "total"}, {"5", "c1", "10"}));
  // Rows of other tables, a NULL key, and a value no capture can hold are ignored.
  txn.changes.push_back(change(RowChange::Op::kInsert, "public.other", {"id"}, {"1"}));
  txn.changes.push_back(change(RowChange::Op::kInsert, "public.users", {"id"}, {std::nullopt}));
  txn.changes.push_back(change(RowChange::Op::kInsert, "public.users", {"id"}, {"a:b"}));
  const Invalidations inv = m.map(txn);
  EXPECT_EQ(inv.keys, (std::set<std::string>{"user:1", "user:2", "user:3", "order:{c1}:5"}));
  EXPECT_EQ(inv.tags, (std::set<std::string>{"team:7"}));
  EXPECT_TRUE(inv.keyspaces.empty());
}

TEST(ChangeMapper, TruncateInvalidatesTheKeyspacesAndNamesResolve) {
  ChangeMapper m(buildRules());
  Invalidations inv;
  m.map(change(RowChange::Op::kTruncate, "public.users", {}, {}), inv);
  EXPECT_EQ(inv.keyspaces, (std::set<std::string>{"users"}));
  // "users" resolved to another schema by the database's search_path.
  std::vector<TableInfo> infos(3);
  infos[0] = {"app.memberships", true, false, {"user_id", "team_id"}, {"user_id", "team_id"}};
  infos[1] = {"public.orders", true, false, {"id"}, {"id", "customer_id"}};
  infos[2] = {"crm.users", true, false, {"id"}, {"id", "name"}};
  m.resolve(infos);
  Invalidations other;
  m.map(change(RowChange::Op::kInsert, "public.users", {"id"}, {"1"}), other);
  EXPECT_TRUE(other.empty());
  m.map(change(RowChange::Op::kInsert, "crm.users", {"id"}, {"1"}), other);
  EXPECT_EQ(other.keys, (std::set<std::string>{"user:1"}));
}

TEST(ChangeMapper, CheckNamesWhatTheReplicaIdentityCannotShow) {
  ChangeMapper m(buildRules());
  std::vector<TableInfo> infos(3);
  infos[0] = {"app.memberships", true, false, {"user_id"}, {"user_id", "team_id"}};
  infos[1] = {"public.orders", false, false, {}, {}};
  infos[2] = {"public.users", true, false, {"id"}, {"id", "name"}};
  const auto problems = m.check(infos);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0],
            "t.yaml:3: keyspace 'users': invalidate table 'app.memberships': column 'team_id' is "
            "not in the table's replica identity, so deletes and updates of it cannot be mapped; "
            "run ALTER TABLE app.memberships REPLICA IDENTITY FULL (or make it part of the "
            "primary key)");
  EXPECT_EQ(problems[1], "t.yaml:4: keyspace 'orders': invalidate table 'orders': no such table");
  infos[0].identity_full = true;
  infos[1] = {"public.orders", true, false, {"id"}, {"id"}};
  const auto again = m.check(infos);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0],
            "t.yaml:4: keyspace 'orders': invalidate table 'orders': no column 'customer_id'");
}

}  // namespace
}  // namespace readthru::cache
