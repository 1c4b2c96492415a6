// SPDX-License-Identifier: Apache-2.0
// Inception's forward-only ops (max/avg pool, concat, bilinear resize) on a
// CUDA backend against the reference backend, f32 and f64, one graph with all
// of them (shapes and attributes as Inception uses them, plus odd sizes).
#pragma once

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "rg/backend_ref.h"
#include "engine/plan.h"
#include "tests/cuda/cuda_test_util.h"

namespace rg::cudatest {

// The graph: every op of the set, with outputs `outs`.
inline std::shared_ptr<Graph> forward_only_graph(DType t, std::vector<ValueId>& outs) {
  auto g = std::make_shared<Graph>(t);
  const ValueId x = g->input("x", {2, 5, 13, 11});
  outs = {
      g->max_pool2d(x, {3, 3}, {2, 2}),
      g->max_pool2d(x, {3, 3}, {1, 1}, {1, 1}),
      g->avg_pool2d(x, {3, 3}, {1, 1}, {1, 1}, false),
      g->avg_pool2d(x, {3, 3}, {1, 1}, {1, 1}, true),
      g->avg_pool2d(x, {2, 2}, {2, 2}),
      g->resize_bilinear(x, 29, 17),
      g->resize_bilinear(x, 6, 4),
  };
  outs.push_back(g->concat({outs[1], x, outs[2]}, 1));
  outs.push_back(g->concat({x, x}, 3));
  for (ValueId v : outs) g->mark_output(v);
  return g;
}

inline void check_forward_only_ops(const std::function<std::unique_ptr<Backend>()>& make) {
  for (DType t : {DType::f32, DType::f64}) {
    std::vector<ValueId> outs;
    const std::shared_ptr<Graph> g = forward_only_graph(t, outs);
    std::mt19937 rng(3);
    std::normal_distribution<double> nd;
    std::vector<double> xv(2 * 5 * 13 * 11);
    for (double& e : xv) e = nd(rng);
    auto ref = make_ref_backend();
    auto be = make();
    auto rp = compile(g, *ref), bp = compile(g, *be);
    Session rs(*rp), bs(*bp);
    for (Session* s : {&rs, &bs}) {
      s->set_input("x", std::span<const double>(xv));
      s->run();
    }
    for (ValueId v : outs)
      EXPECT_LT(rel_err(bs.value(v), rs.value(v)), t == DType::f64 ? 1e-14 : 1e-6)
          << g->value_label(v) << " (" << dtype_name(t) << ")";
  }
}

}  // namespace rg::cudatest
