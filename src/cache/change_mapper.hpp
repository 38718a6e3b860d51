#pragma once
// Turns the database's row changes into invalidations, by the keyspaces' `invalidate:`
// rules. Pure: no I/O.
//
//   invalidate:
//     - table: users           key: [id]            -> the key built from the row's id
//     - table: memberships     tags: ["team:<team_id>"] -> the tag built from team_id
//
// Every row the change touched counts: the new row of an insert or update, and the old
// row of an update or delete (PostgreSQL sends it when a replica-identity column changed,
// or always with REPLICA IDENTITY FULL), so an update that moves a row from one key to
// another invalidates both. A truncate invalidates every keyspace with a rule on the table.

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cache/change_source.hpp"
#include "cache/keyspace_rules.hpp"

namespace readthru::cache {

struct Invalidations {
  std::set<std::string> keys;  // as the application names them (logical)
  std::set<std::string> tags;
  std::set<std::string> keyspaces;
  bool empty() const { return keys.empty() && tags.empty() && keyspaces.empty(); }
};

class ChangeMapper {
 public:
  explicit ChangeMapper(std::shared_ptr<const KeyspaceRules> rules);

  // Every table the rules name, as written ("users", "public.users").
  std::vector<std::string> tables() const;

  // What the database resolved each written name to ("users" -> "public.users"); until
  // then a name without a schema is taken as "public.<name>".
  void resolve(const std::vector<TableInfo>& infos);

  // Problems that make a rule unable to see some changes: a missing table or column, or
  // a key or tag column that is neither in the replica identity nor covered by REPLICA
  // IDENTITY FULL (a delete, or an update of that column, could not be mapped). Each
  // reads "<origin>: keyspace 'k': invalidate table 't': <problem>". `infos` come from
  // ChangeSource::describeTables() for tables().
  std::vector<std::string> check(const std::vector<TableInfo>& infos) const;

  void map(const RowChange& change, Invalidations& out) const;
  Invalidations map(const Transaction& txn) const;

 private:
  struct Rule {
    const Keyspace* ks;
    const config::InvalidateRule* cfg;
    std::vector<KeyPattern> tags;
  };
  std::string qualified(const std::string& table) const;
  static void fromRow(const Rule& rule, const RowChange& change,
                      const std::vector<std::optional<std::string>>& row, Invalidations& out);

  std::shared_ptr<const KeyspaceRules> rules_;
  std::vector<Rule> rules_list_;
  std::map<std::string, std::string> resolved_;
};

}  // namespace readthru::cache
