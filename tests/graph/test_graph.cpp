// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "apps/model/dcgan.h"
#include "apps/model/ralsgan_step.h"
#include "rg/autodiff.h"
#include "graph/graph.h"
#include "graph/op_rules.h"

namespace rg {
namespace {

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const GraphError& e) {
    return e.what();
  }
  return "";
}

TEST(ShapeInference, ErrorsNameTheNodeAndBothShapes) {
  Graph g;
  const ValueId x = g.input("x", {2, 3, 8, 8});
  const ValueId w = g.variable("w", {4, 5, 3, 3});
  const std::string e = error_of([&] { g.conv2d(x, w, 1, 1); });
  EXPECT_NE(e.find("conv2d node #2"), std::string::npos) << e;
  EXPECT_NE(e.find("[4, 5, 3, 3]"), std::string::npos) << e;
  EXPECT_NE(e.find("[2, 3, 8, 8]"), std::string::npos) << e;
  const ValueId a = g.input("a", {2, 3});
  const ValueId b = g.input("b", {4});
  const std::string e2 = error_of([&] { g.add(a, b); });
  EXPECT_NE(e2.find("add node"), std::string::npos) << e2;
  EXPECT_NE(e2.find("[2, 3]"), std::string::npos) << e2;
  EXPECT_NE(e2.find("[4]"), std::string::npos) << e2;
}

// Each op is defined once: by its elementwise row or by its family's row
// (graph/ops/), never both, with a name and a shape rule.
TEST(OpRules, EveryOpHasExactlyOneDefinition) {
  for (int k = 0; k <= int(OpKind::kAssign); ++k) {
    const OpKind op = OpKind(k);
    const ElementwiseOp* e = elementwise_op(op);
    const OpRule* r = op_rule(op);
    EXPECT_NE(e == nullptr, r == nullptr) << "OpKind " << k;
    EXPECT_STRNE(op_name(op), "?") << "OpKind " << k;
    if (r) {
      EXPECT_EQ(r->op, op);
      EXPECT_NE(r->shape, nullptr) << r->name;
      EXPECT_EQ(num_outputs(op), r->outputs) << r->name;
    }
  }
  // The rows' state-update and leaf flags, against the op list of rg/op.h.
  for (int k = 0; k <= int(OpKind::kAssign); ++k) {
    const OpKind op = OpKind(k);
    EXPECT_EQ(is_state_update(op), op == OpKind::kAdamUpdate ||
                                       op == OpKind::kBatchNormRunningUpdate ||
                                       op == OpKind::kIncrement || op == OpKind::kAssign)
        << op_name(op);
    EXPECT_EQ(is_leaf(op), op == OpKind::kInput || op == OpKind::kVariable || op == OpKind::kFill) << op_name(op);
  }
  EXPECT_EQ(state_alias_input(OpKind::kAdamUpdate, 0), 0);  // param', m', v' over param, m, v
  EXPECT_EQ(state_alias_input(OpKind::kAdamUpdate, 1), 2);
  EXPECT_EQ(state_alias_input(OpKind::kAdamUpdate, 2), 3);
  EXPECT_EQ(state_alias_input(OpKind::kBatchNormRunningUpdate, 0), 0);
  // A gradient rule that refuses names the node.
  Graph g;
  const auto bn = g.batch_norm_train(g.input("x", {2, 3, 4, 4}), g.variable("gm", {3}), g.variable("bt", {3}));
  try {
    gradients(g, g.mean(bn.mean), {g.current(g.find_variable("gm"))});
    ADD_FAILURE() << "a gradient through batch statistics was accepted";
  } catch (const GraphError& e) {
    EXPECT_NE(std::string(e.what()).find("batch_norm_train node #"), std::string::npos) << e.what();
  }
}

TEST(ShapeInference, ClassifierOpsShapesAndErrors) {
  Graph g;
  const ValueId a = g.input("a", {5, 3});
  const ValueId b = g.input("b", {4, 3});
  EXPECT_EQ(g.shape(g.matmul(a, b, false, true)), (Shape{5, 4}));
  EXPECT_EQ(g.shape(g.matmul(a, a, true, false)), (Shape{3, 3}));
  const std::string e = error_of([&] { g.matmul(a, b); });
  EXPECT_NE(e.find("matmul node"), std::string::npos) << e;
  EXPECT_NE(e.find("[5, 3] @ [4, 3]"), std::string::npos) << e;
  EXPECT_NE(error_of([&] { g.matmul(g.input("v", {3}), b); }).find("rank 2"), std::string::npos);
  EXPECT_EQ(g.shape(g.log_softmax(g.input("x3", {2, 3, 7}))), (Shape{2, 3, 7}));
  const ValueId x = g.input("x", {2, 3, 7, 6});
  EXPECT_EQ(g.shape(g.max_pool2d(x, {2, 2}, {2, 2})), (Shape{2, 3, 3, 3}));
  OpAttrs pool;
  pool.kernel = {2, 2};
  pool.stride = {2, 2};
  const std::string e2 = error_of([&] { g.add_node(OpKind::kMaxPool2dBackward, {x, x}, pool); });
  EXPECT_NE(e2.find("not the pooled shape"), std::string::npos) << e2;
}

TEST(ShapeInference, ConvolutionShapesMatchPyTorch) {
  Graph g;
  const ValueId z = g.input("z", {5, 16, 1, 1});
  const ValueId y = g.conv_transpose2d(z, g.variable("w0", {16, 8, 4, 4}), 1, 0);
  EXPECT_EQ(g.shape(y), (Shape{5, 8, 4, 4}));
  const ValueId y2 = g.conv_transpose2d(y, g.variable("w1", {8, 4, 4, 4}), 2, 1);
  EXPECT_EQ(g.shape(y2), (Shape{5, 4, 8, 8}));
  const ValueId y3 = g.conv_transpose2d(y2, g.variable("w2", {4, 2, 3, 3}), 2, 1, 1);
  EXPECT_EQ(g.shape(y3), (Shape{5, 2, 16, 16}));
  const ValueId d = g.conv2d(y3, g.variable("w3", {6, 2, 4, 4}), 2, 1);
  EXPECT_EQ(g.shape(d), (Shape{5, 6, 8, 8}));
  EXPECT_EQ(g.shape(g.mean(d, {0, 2, 3}, true)), (Shape{1, 6, 1, 1}));
  EXPECT_EQ(g.shape(g.mean(d)), (Shape{}));
}

TEST(Models, SeedParameterCountsAndNames) {
  const model::ModelConfig cfg;  // 128, width 1, nz 128
  const auto gp = model::generator_params(cfg);
  const auto dp = model::discriminator_params(cfg);
  EXPECT_EQ(model::count_parameters(gp), 13275939);
  EXPECT_EQ(model::count_parameters(dp), 2796800);
  EXPECT_EQ(gp.front().key, "model.0.weight");
  EXPECT_EQ(gp.front().shape, (Shape{128, 1024, 4, 4}));
  EXPECT_EQ(gp.back().key, "model.18.bias");
  EXPECT_EQ(dp.back().key, "model.13.weight");
  EXPECT_EQ(dp.back().shape, (Shape{1, 512, 4, 4}));
  bool has_nbt = false;
  for (const auto& p : gp) has_nbt |= p.key == "model.1.num_batches_tracked" && p.dtype == DType::i64;
  EXPECT_TRUE(has_nbt);
}

TEST(Models, OutputShapesAtEverySize) {
  for (int size : {32, 64, 128, 256}) {
    Graph g;
    model::ModelConfig cfg{size, 0.0625, 16};
    const ValueId z = g.input("z", {2, 16});
    const ValueId img = model::build_generator(g, cfg, z, false);
    EXPECT_EQ(g.shape(img), (Shape{2, 3, size, size}));
    EXPECT_EQ(g.shape(model::build_discriminator(g, cfg, img, false)), (Shape{2}));
  }
}

TEST(Autodiff, StateUpdatesMustWriteTheNewestVersion) {
  Graph g;
  const ValueId c = g.variable("c", {}, DType::i64);
  g.increment(c);
  const std::string e = error_of([&] { g.increment(c); });
  EXPECT_NE(e.find("not the newest version of variable 'c'"), std::string::npos) << e;
}

TEST(Autodiff, GradientThroughDiscriminatorReachesGeneratorOnly) {
  model::StepConfig cfg;
  cfg.model = {32, 0.125, 8};
  cfg.batch = 2;
  cfg.expose_gradients = true;
  const model::StepGraph s = model::build_train_step(cfg, DType::f64);
  EXPECT_TRUE(s.grads.count("grad.G.model.0.weight"));
  EXPECT_TRUE(s.grads.count("grad.D.model.0.weight"));
  EXPECT_TRUE(s.grads.count("grad.fake"));
  // Two Adam updates per trainable parameter pair of networks, one per parameter.
  int adam = 0;
  for (NodeId id = 0; id < s.graph->num_nodes(); ++id) adam += s.graph->node(id).op == OpKind::kAdamUpdate;
  int trainable = 0;
  for (const auto& p : s.g_params) trainable += p.trainable;
  for (const auto& p : s.d_params) trainable += p.trainable;
  EXPECT_EQ(adam, trainable);
}

}  // namespace
}  // namespace rg
