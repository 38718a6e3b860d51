#pragma once
// Where the database pools report what preparing each statement told them (on every
// connect, from every io thread): the newest keyspace rules that run those statements. A
// reload that keeps the SQL keeps the pools too, and points them at its own rules here,
// so that a rule whose format changed is still checked against the statement's columns.
// Locked: written by a reload on thread 0, read by the pools on their threads when they
// connect, never per request.

#include <memory>
#include <mutex>

#include "cache/keyspace_rules.hpp"

namespace readthru::app {

class PreparedTarget {
 public:
  explicit PreparedTarget(std::shared_ptr<cache::KeyspaceRules> rules) : rules_(std::move(rules)) {}

  void point(std::shared_ptr<cache::KeyspaceRules> rules) {
    const std::lock_guard lock(mutex_);
    rules_ = std::move(rules);
  }

  void onPrepared(std::size_t statement, const Result<cache::StatementShape>& shape) {
    std::shared_ptr<cache::KeyspaceRules> rules;
    {
      const std::lock_guard lock(mutex_);
      rules = rules_;
    }
    rules->onPrepared(statement, shape);
  }

 private:
  std::mutex mutex_;
  std::shared_ptr<cache::KeyspaceRules> rules_;
};

}  // namespace readthru::app
