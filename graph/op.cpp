// SPDX-License-Identifier: Apache-2.0
#include "rg/op.h"

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
  const OpRule* r = op_rule(k);
  return r && r->writes[0] >= 0;
}

bool is_leaf(OpKind k) {  // no inputs: the graph starts from it
  const OpRule* r = op_rule(k);
  return r && r->inputs == 0;
}

int num_outputs(OpKind k) {
  const OpRule* r = op_rule(k);
  return r ? r->outputs : 1;
}

}  // namespace rg

namespace rg {
int state_alias_input(OpKind k, int output_index) {
  const OpRule* r = op_rule(k);
  return r && output_index >= 0 && size_t(output_index) < r->writes.size() && r->writes[size_t(output_index)] >= 0
             ? r->writes[size_t(output_index)]
             : 0;
}
}  // namespace rg
