// SPDX-License-Identifier: Apache-2.0
// State updates, written in place into a variable's storage:
// adam_update (param, grad, m, v, step) -> (param', m', v') as
// torch.optim.Adam (attrs.lr, beta1, beta2, adam_eps; graph/state_update_rules.h),
// increment (counter) -> counter + 1, assign (variable, value) -> value. (The running-statistic
// update is BatchNorm's: graph/ops/batch_norm_ops.cpp.)
#include "graph/op_rules.h"
#include "graph/ops/shape_checks.h"

namespace rg {
namespace {

using namespace shape_checks;

std::vector<TensorDesc> adam_shape(const ShapeArgs& s) {
  expect_same(s.node, "parameter", s.d(0), "gradient", s.d(1));
  expect_same(s.node, "parameter", s.d(0), "first moment", s.d(2));
  expect_same(s.node, "parameter", s.d(0), "second moment", s.d(3));
  if (s.d(4).dtype != DType::i64 || s.d(4).numel() != 1)
    fail(s.node, "step must be an i64 scalar, got " + desc_str(s.d(4)));
  return {s.d(0), s.d(2), s.d(3)};
}

std::vector<TensorDesc> assign_shape(const ShapeArgs& s) {
  expect_same(s.node, "variable", s.d(0), "value", s.d(1));
  return {s.d(0)};
}

std::vector<TensorDesc> increment_shape(const ShapeArgs& s) {
  if (s.d(0).dtype != DType::i64) fail(s.node, "counter must be i64, got " + desc_str(s.d(0)));
  return {s.d(0)};
}

const OpRule kRules[] = {
    {OpKind::kAdamUpdate, "adam_update", 5, 3, 1u << 4, adam_shape, nullptr, {0, 2, 3}},  // p, m, v
    {OpKind::kIncrement, "increment", 1, 1, 1u << 0, increment_shape, nullptr, {0, -1, -1}},
    {OpKind::kAssign, "assign", 2, 1, 0, assign_shape, nullptr, {0, -1, -1}},
};

}  // namespace

std::span<const OpRule> state_op_rules() {
  return kRules;
}

}  // namespace rg
