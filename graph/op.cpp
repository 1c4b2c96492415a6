#include "graph/op.h"

#include "graph/elementwise_ops.h"
#include "graph/op_rules.h"

namespace rg {

const char* op_name(OpKind k) {
  if (const ElementwiseOp* e = elementwise_op(k)) return e->name;
  if (const OpRule* r = op_rule(k)) return r->name;
  return "?";
}

bool is_elementwise(OpKind k) { return elementwise_op(k) != nullptr; }

bool is_state_update(OpKind k) {
  return k == OpKind::kAdamUpdate || k == OpKind::kBatchNormRunningUpdate || k == OpKind::kIncrement;
}

bool is_leaf(OpKind k) { return k == OpKind::kInput || k == OpKind::kVariable || k == OpKind::kFill; }

int num_outputs(OpKind k) {
  const OpRule* r = op_rule(k);
  return r ? r->outputs : 1;
}

}  // namespace rg

namespace rg {
int state_alias_input(OpKind k, int output_index) {
  if (k == OpKind::kAdamUpdate) return output_index == 0 ? 0 : output_index + 1;  // p, m, v
  return 0;
}
}  // namespace rg
