// SPDX-License-Identifier: Apache-2.0
// Output descriptors of every node: the checks every op shares (input count,
// floating-point inputs), then the op's own rule (its family's file in
// graph/ops/, or its elementwise row). Errors name the node and the shapes.
#include <algorithm>

#include "graph/elementwise_ops.h"
#include "graph/graph.h"
#include "graph/op_rules.h"
#include "graph/ops/shape_checks.h"

namespace rg {

using namespace shape_checks;

Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& where) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      fail(where, "cannot broadcast " + shape_str(a) + " with " + shape_str(b));
    out[i] = std::max(da, db);
  }
  return out;
}

std::vector<TensorDesc> infer_outputs(const Graph& g, OpKind op, const std::vector<ValueId>& in,
                                      const OpAttrs& a, const std::string& node) {
  auto d = [&](size_t i) -> const TensorDesc& { return g.desc(in.at(i)); };
  const ElementwiseOp* ew = elementwise_op(op);
  const OpRule* rule = ew ? nullptr : op_rule(op);
  if (!ew && !rule) fail(node, "unknown op");
  const int arity = ew ? ew->arity : rule->inputs;
  const size_t want =
      arity >= 0 ? size_t(arity) : std::max<size_t>(in.size(), 1);  // -1: any number, at least one
  if (in.size() != want)
    fail(node, "expects " + std::to_string(want) + " inputs, got " + std::to_string(in.size()));
  for (size_t i = 0; i < in.size(); ++i)
    if (!(rule && i < 8 && (rule->integer_inputs >> i & 1u)) && d(i).dtype == DType::i64)
      fail(node, "needs a floating-point tensor, got " + desc_str(d(i)));
  if (rule) return rule->shape(ShapeArgs{g, in, a, node});
  if (ew->broadcasts) {
    if (d(0).dtype != d(1).dtype)
      fail(node, "dtypes differ: " + desc_str(d(0)) + " and " + desc_str(d(1)));
    return {TensorDesc{broadcast_shapes(d(0).shape, d(1).shape, node), d(0).dtype}};
  }
  // One shape: (x) or an activation's gradient (dy, saved).
  if (ew->arity == 2) expect_same(node, "output gradient", d(0), "saved tensor", d(1));
  return {d(0)};
}

}  // namespace rg
