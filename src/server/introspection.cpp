// Dispatcher: COMMAND, INFO and the emulated CLUSTER view. readthru presents itself to
// clients as a one-node Redis Cluster that owns all 16,384 slots at its own address, so
// cluster-aware clients (redis-py RedisCluster, ioredis Cluster, JedisCluster) route every
// key to readthru and never see a MOVED.

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "command/key_slot.hpp"
#include "common/text.hpp"
#include "metrics/render.hpp"
#include "resp/writer.hpp"
#include "server/context.hpp"
#include "server/dispatcher.hpp"
#include "server/info.hpp"
#include "server/session.hpp"

namespace readthru::server {
namespace {

// ---------------------------------------------------------------------------------------
// COMMAND

std::vector<std::string_view> flagNames(std::uint32_t flags) {
  std::vector<std::string_view> names;
  for (std::uint32_t bit = 1; bit != 0; bit <<= 1) {
    if ((flags & bit) == 0) continue;
    const auto name = command::flagName(static_cast<command::Flag>(bit));
    if (!name.empty()) names.push_back(name);
  }
  return names;
}

bool isSubcommand(const command::CommandSpec& spec) {
  return spec.name.find('|') != std::string_view::npos;
}

void appendCommandEntry(std::string& out, const command::CommandSpec& spec) {
  // Redis 7 layout: name, arity, flags, first key, last key, step, ACL categories, tips,
  // key specs, subcommands. readthru leaves tips and key specs empty.
  std::vector<const command::CommandSpec*> subs;
  if (!isSubcommand(spec)) {
    const std::string prefix = std::string(spec.name) + "|";
    for (const auto& c : command::allCommands()) {
      if (c.name.starts_with(prefix)) subs.push_back(&c);
    }
  }
  resp::appendArrayHeader(out, 10);
  resp::appendBulk(out, spec.name);
  resp::appendInteger(out, spec.arity);
  const auto flags = flagNames(spec.flags);
  resp::appendArrayHeader(out, flags.size());
  for (auto f : flags) resp::appendSimple(out, f);
  resp::appendInteger(out, spec.first_key);
  resp::appendInteger(out, spec.last_key);
  resp::appendInteger(out, spec.step);
  std::vector<std::string> categories;
  for (std::uint32_t bit = 1; bit != 0; bit <<= 1) {
    if ((spec.categories & bit) != 0) {
      categories.push_back("@" + std::string(command::categoryName(command::Category(bit))));
    }
  }
  resp::appendArrayHeader(out, categories.size());
  for (const auto& c : categories) resp::appendSimple(out, c);
  resp::appendArrayHeader(out, 0);
  resp::appendArrayHeader(out, 0);
  resp::appendArrayHeader(out, subs.size());
  for (const auto* s : subs) appendCommandEntry(out, *s);
}

void appendCommandDocs(std::string& out, const command::CommandSpec& spec) {
  resp::appendBulk(out, spec.name);
  resp::appendArrayHeader(out, 6);
  resp::appendBulk(out, "summary");
  resp::appendBulk(out, spec.summary);
  resp::appendBulk(out, "since");
  resp::appendBulk(out, spec.since);
  resp::appendBulk(out, "group");
  resp::appendBulk(out, spec.group);
}

// Positions first..last by step, as Redis's range key spec finds them: positions past the
// end are skipped, so an incomplete last pair of MSET still names its key (Redis 7.0 does).
std::vector<std::size_t> rangeKeys(const command::CommandSpec& spec, std::size_t argc) {
  std::vector<std::size_t> keys;
  const auto n = static_cast<long long>(argc);
  const long long last = spec.last_key >= 0 ? spec.last_key : n + spec.last_key;
  const long long step = spec.step > 0 ? spec.step : 1;
  for (long long i = spec.first_key; i > 0 && i <= last && i < n; i += step) {
    keys.push_back(static_cast<std::size_t>(i));
  }
  return keys;
}

// COMMAND GETKEYS <command...> with Redis 7.0's checks in Redis's order
// (getKeysSubcommandImpl): known command, has keys at all, arity, then the keys; a command
// whose keys are optional (EVAL with 0 or too many keys) answers an empty list.
void commandGetKeys(std::string& out, ErrorCounts& errors, const std::vector<std::string>& argv) {
  const auto* spec = command::lookup(argv);
  if (spec == nullptr) {
    appendCountedError(errors, out, "ERR Invalid command specified");
    return;
  }
  const bool movable = spec->has(command::kMovableKeys);
  if (spec->first_key <= 0 && !movable) {
    appendCountedError(errors, out, "ERR The command has no key arguments");
    return;
  }
  if (!command::arityOk(*spec, argv.size())) {
    appendCountedError(errors, out, "ERR Invalid number of arguments specified for command");
    return;
  }
  std::vector<std::size_t> keys;
  if (movable) {
    // keyPositions() answers the command's own error for bad numkeys; GETKEYS does not.
    auto found = command::keyPositions(*spec, argv);
    if (found.ok()) keys = std::move(*found);
  } else {
    keys = rangeKeys(*spec, argv.size());
  }
  if (keys.empty() && !spec->has(command::kNoMandatoryKeys)) {
    appendCountedError(errors, out, "ERR Invalid arguments specified for command");
    return;
  }
  resp::appendArrayHeader(out, keys.size());
  for (auto k : keys) resp::appendBulk(out, argv[k]);
}

std::vector<const command::CommandSpec*> topLevelCommands() {
  std::vector<const command::CommandSpec*> all;
  for (const auto& c : command::allCommands()) {
    if (!isSubcommand(c)) all.push_back(&c);
  }
  return all;
}

}  // namespace

void Dispatcher::commandCommand(std::string& out, const std::vector<std::string>& args) {
  if (args.size() == 1) {
    const auto all = topLevelCommands();
    resp::appendArrayHeader(out, all.size());
    for (const auto* c : all) appendCommandEntry(out, *c);
    return;
  }
  const std::string sub = toLower(args[1]);
  if (sub == "count" && args.size() == 2) {
    resp::appendInteger(out, static_cast<std::int64_t>(topLevelCommands().size()));
  } else if (sub == "list" && args.size() == 2) {
    const auto all = topLevelCommands();
    resp::appendArrayHeader(out, all.size());
    for (const auto* c : all) resp::appendBulk(out, c->name);
  } else if (sub == "info") {
    if (args.size() == 2) {
      commandCommand(out, {args[0]});
      return;
    }
    resp::appendArrayHeader(out, args.size() - 2);
    for (std::size_t i = 2; i < args.size(); ++i) {
      const auto* spec = command::lookupName(args[i]);
      if (spec != nullptr) {
        appendCommandEntry(out, *spec);
      } else {
        resp::appendNilArray(out);
      }
    }
  } else if (sub == "docs") {
    std::vector<const command::CommandSpec*> wanted;
    if (args.size() == 2) {
      wanted = topLevelCommands();
    } else {
      for (std::size_t i = 2; i < args.size(); ++i) {
        if (const auto* spec = command::lookupName(args[i])) wanted.push_back(spec);
      }
    }
    resp::appendArrayHeader(out, wanted.size() * 2);
    for (const auto* c : wanted) appendCommandDocs(out, *c);
  } else if (sub == "getkeys" && args.size() >= 3) {
    commandGetKeys(out, stats_.errors, std::vector<std::string>(args.begin() + 2, args.end()));
  } else {
    appendError(out, "ERR unknown subcommand '" + args[1] + "'. Try COMMAND HELP.");
  }
}

// ---------------------------------------------------------------------------------------
// INFO (rendered by info.cpp)

void Dispatcher::info(Session& session, const std::vector<std::string>& args) {
  auto sections = infoSections({args.begin() + 1, args.end()});
  auto reply = localReplyLater(session);
  auto render = [this, sections, reply](const BackendTotals& backend) {
    const metrics::Snapshot snap = ctx_.metrics.snapshot();
    reply(resp::Value::bulk(renderInfoText(sections, {ctx_, snap, backend})));
  };
  if (!needsBackendTotals(sections)) {
    render(BackendTotals{});
    return;
  }
  backend_info_.get(render);
}

// ---------------------------------------------------------------------------------------
// CLUSTER: one node, all slots, at readthru's own address.

void Dispatcher::cluster(std::string& out, const std::vector<std::string>& args) {
  const std::string sub = toLower(args[1]);
  const std::string& host = ctx_.listen.announce;
  const int port = ctx_.listen.port;
  if (sub == "slots") {
    resp::appendArrayHeader(out, 1);
    resp::appendArrayHeader(out, 3);
    resp::appendInteger(out, 0);
    resp::appendInteger(out, command::kSlotCount - 1);
    resp::appendArrayHeader(out, 4);
    resp::appendBulk(out, host);
    resp::appendInteger(out, port);
    resp::appendBulk(out, ctx_.node_id);
    resp::appendArrayHeader(out, 0);
  } else if (sub == "shards") {
    resp::appendArrayHeader(out, 1);
    resp::appendArrayHeader(out, 4);
    resp::appendBulk(out, "slots");
    resp::appendArrayHeader(out, 2);
    resp::appendInteger(out, 0);
    resp::appendInteger(out, command::kSlotCount - 1);
    resp::appendBulk(out, "nodes");
    resp::appendArrayHeader(out, 1);
    resp::appendArrayHeader(out, 14);
    resp::appendBulk(out, "id");
    resp::appendBulk(out, ctx_.node_id);
    resp::appendBulk(out, "port");
    resp::appendInteger(out, port);
    resp::appendBulk(out, "ip");
    resp::appendBulk(out, host);
    resp::appendBulk(out, "endpoint");
    resp::appendBulk(out, host);
    resp::appendBulk(out, "role");
    resp::appendBulk(out, "master");
    resp::appendBulk(out, "replication-offset");
    resp::appendInteger(out, 0);
    resp::appendBulk(out, "health");
    resp::appendBulk(out, "online");
  } else if (sub == "nodes") {
    resp::appendBulk(out, ctx_.node_id + " " + host + ":" + std::to_string(port) + "@" +
                              std::to_string(port + 10000) +
                              " myself,master - 0 0 1 connected 0-16383\n");
  } else if (sub == "info") {
    resp::appendBulk(
        out,
        "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n"
        "cluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:1\r\n"
        "cluster_size:1\r\ncluster_current_epoch:1\r\ncluster_my_epoch:1\r\n");
  } else if (sub == "keyslot" && args.size() == 3) {
    resp::appendInteger(out, command::keyHashSlot(args[2]));
  } else if (sub == "myid" && args.size() == 2) {
    resp::appendBulk(out, ctx_.node_id);
  } else {
    appendError(out, "ERR readthru: CLUSTER " + args[1] +
                         " is not supported (readthru answers SLOTS, SHARDS, NODES, INFO, "
                         "KEYSLOT and MYID as a one-node cluster)");
  }
}

}  // namespace readthru::server
