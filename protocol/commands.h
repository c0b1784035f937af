#pragma once
// A server's commands as a table from name to handler, each handler written beside its name
// (BESS's per-module `Commands` is the model): dispatch, and the list of names that an unknown
// command's error gives, come from the one table. espgw's control socket has two
// (dataplane/control/ops.cpp: the commands, and the ops of a transaction), espgw-ike's status
// socket one (ike-bridge/espgw_ike/main.cpp).

#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/redact.h"

namespace espgw::protocol {

template <class Handler>
class Table {
 public:
  struct Entry {
    const char* name;
    Handler handler;
  };

  Table(std::initializer_list<Entry> entries) : entries_(entries) {}
  void add(const char* name, Handler handler) { entries_.push_back({name, handler}); }

  const std::vector<Entry>& entries() const noexcept { return entries_; }
  bool contains(std::string_view name) const noexcept { return find(name) != nullptr; }
  const Handler* find(std::string_view name) const noexcept {
    for (const auto& e : entries_) {
      if (name == e.name) return &e.handler;
    }
    return nullptr;
  }
  // The handler of `name`; an unknown one is an error that lists every name, e.g. `unknown cmd
  // "frobnicate" (expected one of: status, all, ...)` (`what`: "cmd").
  const Handler& at(const std::string& name, std::string_view what) const {
    if (const Handler* h = find(name)) return *h;
    throw std::invalid_argument("unknown " + std::string(what) + " " + quote(name) +
                                " (expected one of: " + names() + ")");
  }
  // "status, all, counters, ...", in table order.
  std::string names() const {
    std::string s;
    for (const auto& e : entries_)
      s += std::string(s.empty() ? "" : ", ") + e.name;
    return s;
  }

 private:
  std::vector<Entry> entries_;
};

}  // namespace espgw::protocol
