// SPDX-License-Identifier: Apache-2.0
// One op registry per backend: which function lowers a fusion group anchored
// on each op, gathered from one table per op family per backend
// (backends/*/ops/*.cpp). A backend's Backend::lowers() is read from it, so
// adding an op to a backend is adding a row to the family's table, and the
// engine (engine/plan.cpp) sends a group whose op has no row to the host
// fallback, or refuses the graph naming the op, before anything is compiled.
//
// Entry is the backend's row type: an `op` field and whatever the backend
// needs to lower and plan it (its lowering function, layout rules, ...).
#pragma once

#include <array>
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string>

#include "engine/schedule.h"
#include "rg/op.h"

namespace rg {

// How the engine places an op of a graph: no kernel at all (leaves and
// views: Input, Variable, Reshape, StopGradient), in every backend's
// elementwise chain program, or through the op's own row in a backend's registry.
inline bool needs_no_kernel(OpKind k) {
  return k == OpKind::kInput || k == OpKind::kVariable || is_view(k);
}

template <class Entry>
class OpRegistry {
 public:
  // `families`: the backend's tables, one per op family; an op in two rows is
  // a programming error, reported with the backend's name. Every backend
  // lowers every elementwise op (graph/elementwise_ops.h) in its chain
  // program, so elementwise ops have no rows.
  OpRegistry(const std::string& backend, std::initializer_list<std::span<const Entry>> families) {
    for (std::span<const Entry> family : families)
      for (const Entry& e : family) {
        if (is_elementwise(e.op) || table_.at(size_t(e.op)))
          throw std::logic_error(backend + " backend: op " + op_name(e.op) +
                                 (is_elementwise(e.op)
                                      ? " is elementwise (the chain program lowers it)"
                                      : " registered twice"));
        table_[size_t(e.op)] = &e;
      }
  }
  // The op's row, or null (elementwise ops and ops this backend does not lower).
  const Entry* find(OpKind k) const { return table_[size_t(k)]; }
  // Whether a group with this op can be compiled by this backend.
  bool lowers(OpKind k) const { return needs_no_kernel(k) || is_elementwise(k) || find(k); }
  // The row of a group's anchor (its first node, when not elementwise); throws
  // naming the op where there is none (the engine checked lowers() first).
  const Entry& at(OpKind k, const char* backend) const {
    if (const Entry* e = find(k)) return *e;
    throw std::logic_error(std::string(backend) + " backend: no kernel registered for " +
                           op_name(k));
  }

 private:
  std::array<const Entry*, 256> table_{};
};

}  // namespace rg
