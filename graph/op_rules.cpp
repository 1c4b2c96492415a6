// SPDX-License-Identifier: Apache-2.0
#include "graph/op_rules.h"

#include <array>
#include <stdexcept>

namespace rg {

const OpRule* op_rule(OpKind k) {
  // Indexed by OpKind, filled once from the families' rows.
  static const auto table = [] {
    std::array<const OpRule*, 256> t{};
    for (auto family :
         {leaf_op_rules, convolution_op_rules, batch_norm_op_rules, reduction_op_rules,
          state_op_rules, pooling_op_rules, image_op_rules, linear_op_rules})
      for (const OpRule& r : family()) {
        if (t.at(size_t(r.op)) || elementwise_op(r.op))
          throw std::logic_error(std::string("op defined twice: ") + r.name);
        t[size_t(r.op)] = &r;
      }
    return t;
  }();
  return size_t(k) < table.size() ? table[size_t(k)] : nullptr;
}

}  // namespace rg
