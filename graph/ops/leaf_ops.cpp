// SPDX-License-Identifier: Apache-2.0
// Leaves: values the graph starts from.
#include "graph/op_rules.h"

namespace rg {
namespace {

std::vector<TensorDesc> leaf_shape(const ShapeArgs& s) {
  return {TensorDesc{s.a.shape, s.g.float_type()}};
}

const OpRule kRules[] = {
    {OpKind::kInput, "input", 0, 1, 0, leaf_shape, nullptr},
    {OpKind::kVariable, "variable", 0, 1, 0, leaf_shape, nullptr},
    {OpKind::kFill, "fill", 0, 1, 0, leaf_shape, nullptr},
};

}  // namespace

std::span<const OpRule> leaf_op_rules() {
  return kRules;
}

}  // namespace rg
