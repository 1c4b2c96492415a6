// SPDX-License-Identifier: Apache-2.0
// The op registry's coverage, as ggml's test-backend-ops lists it: every op of
// the IR against every backend of this build (native, through the engine's
// host fallback, or missing), printed as a table. It fails when an op has no
// case in the shared op harness (tests/common/op_cases.h; an op counts as
// covered when it appears in a case's graph, forward or backward; leaves and
// views, which no backend runs, need none), when a
// backend can run an op neither natively nor through its fallback, and when
// a compiled case does not run where the table says.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include "engine/op_registry.h"
#include "engine/plan.h"
#include "graph/op_rules.h"
#include "tests/common/op_cases.h"
#include "tests/ops/backends_under_test.h"

namespace rg {
namespace {

// Every OpKind the IR defines, in enum order.
std::vector<OpKind> all_ops() {
  std::vector<OpKind> r;
  for (int i = 0; i < 256; ++i)
    if (op_rule(OpKind(i)) || elementwise_op(OpKind(i))) r.push_back(OpKind(i));
  return r;
}

enum class Placement { kNoKernel, kNative, kFallback, kMissing };

Placement placement(Backend& be, OpKind op) {
  if (needs_no_kernel(op)) return Placement::kNoKernel;
  if (be.lowers(op)) return Placement::kNative;
  if (Backend* f = be.host_fallback(); f && f->lowers(op)) return Placement::kFallback;
  return Placement::kMissing;
}

const char* text(Placement p) {
  switch (p) {
    case Placement::kNoKernel:
      return "-";
    case Placement::kNative:
      return "native";
    case Placement::kFallback:
      return "fallback";
    case Placement::kMissing:
      return "MISSING";
  }
  return "?";
}

TEST(OpCoverage, EveryOpHasACaseAndRunsOnEveryBackend) {
  std::set<OpKind> covered;
  for (const testing_ops::Case& c : testing_ops::cases()) {
    const testing_ops::BuiltCase b = testing_ops::build_case(c, DType::f32);
    for (NodeId id = 0; id < b.graph->num_nodes(); ++id) covered.insert(b.graph->node(id).op);
  }
  const std::vector<testing_ops::NamedBackend> named = testing_ops::backends_under_test();
  std::vector<std::unique_ptr<Backend>> backends;
  for (const auto& nb : named) backends.push_back(nb.make());
  std::string table = "op                           case  ";
  for (const auto& nb : named)
    table += " " + nb.name + std::string(15 - std::min<size_t>(14, nb.name.size()), ' ');
  table += "\n";
  for (OpKind op : all_ops()) {
    std::string row = op_name(op);
    row.resize(std::max<size_t>(row.size(), 29), ' ');
    // Leaves and views have no kernel on any backend: nothing to run per backend.
    const bool needs_case = !needs_no_kernel(op);
    row += covered.count(op) ? "yes   " : needs_case ? "NO    " : "-     ";
    EXPECT_TRUE(covered.count(op) || !needs_case)
        << op_name(op) << " has no case in tests/common/op_cases.h";
    for (size_t i = 0; i < backends.size(); ++i) {
      const Placement p = placement(*backends[i], op);
      std::string cell = text(p);
      cell.resize(16, ' ');
      row += cell;
      EXPECT_NE(p, Placement::kMissing) << named[i].name << " backend cannot run " << op_name(op);
    }
    table += row + "\n";
  }
  std::fputs(table.c_str(), stdout);
}

// Each case's groups are compiled where the table says: by the backend
// itself where it lowers every op of the group, else by its host fallback
// (the kernel's describe() names who compiled it).
TEST(OpCoverage, CompiledGroupsRunWhereTheTableSays) {
  for (const auto& nb : testing_ops::backends_under_test()) {
    auto be = nb.make();
    for (const testing_ops::Case& c : testing_ops::cases()) {
      const testing_ops::BuiltCase b = testing_ops::build_case(c, DType::f32);
      std::unique_ptr<Plan> plan;
      try {
        plan = compile(b.graph, *be);
      } catch (const std::runtime_error& e) {
        // A GPU's cuDNN refuses padding that differs between sides, naming why (test_cuda_ops.cpp).
        EXPECT_EQ(nb.name, "cuda") << c.name << ": " << e.what();
        EXPECT_TRUE(testing_ops::is_cudnn_padding_refusal(e)) << e.what();
        continue;
      }
      for (size_t k = 0; k < plan->groups.size(); ++k) {
        bool native = true;
        for (NodeId id : plan->groups[k].nodes) native = native && be->lowers(b.graph->node(id).op);
        const std::string d = plan->kernels[k]->describe();
        const std::string want = native ? nb.prefix : "ref/";
        EXPECT_EQ(d.rfind(want, 0), 0u) << nb.name << ", case " << c.name << ": "
                                        << group_str(*b.graph, plan->groups[k]) << " -> " << d;
        EXPECT_EQ(bool(plan->on_fallback[k]), !native) << nb.name << ", case " << c.name;
      }
    }
  }
}

#if RALSGAN_HAVE_ONEDNN
// oneDNN runs every op of the set with an optimised implementation: no
// kernel names one of oneDNN's reference ("ref:") primitives. CI runs this
// natively and again under DNNL_MAX_CPU_ISA=AVX2.
TEST(OpCoverage, OneDnnRunsNoReferencePrimitive) {
  auto be = make_onednn_backend({.threads = 2});
  int primitives = 0;
  for (const testing_ops::Case& c : testing_ops::cases()) {
    const testing_ops::BuiltCase b = testing_ops::build_case(c, DType::f32);
    auto plan = compile(b.graph, *be);
    for (size_t k = 0; k < plan->groups.size(); ++k) {
      const std::string d = plan->kernels[k]->describe();
      EXPECT_EQ(d.find("ref:"), std::string::npos) << "case " << c.name << ": " << d;
      primitives += d.find("jit:") != std::string::npos || d.find("gemm:") != std::string::npos ||
                    d.find("brg") != std::string::npos;
    }
  }
  std::printf("%d oneDNN primitives\n", primitives);
  EXPECT_GT(primitives, 20);  // the check reads real implementation names
}
#endif

}  // namespace
}  // namespace rg
