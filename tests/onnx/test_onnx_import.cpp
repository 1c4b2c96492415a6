// SPDX-License-Identifier: Apache-2.0
// The importer's contract on bad input: a malformed or hostile file gets one
// clear FileError naming the file; a valid model with an op, attribute or
// input the engine cannot run gets an UnsupportedError naming the node, the
// op and the attribute. And a small model imports with its inputs, weights
// and outputs named as in the file, and computes what the engine's own graph does.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>

#include "engine/plan.h"
#include "rg/session.h"
#include "rg/backend_ref.h"
#include "rg/onnx.h"

namespace rg {
namespace {

namespace fs = std::filesystem;
using ::onnx::ModelProto;
using ::onnx::TensorProto;

ModelProto base_model(int64_t opset = 13) {
  ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(opset);
  return m;
}

void add_input(ModelProto& m, const std::string& name, std::vector<int64_t> dims,
               int type = TensorProto::FLOAT) {
  auto* in = m.mutable_graph()->add_input();
  in->set_name(name);
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(type);
  for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
}

void add_output(ModelProto& m, const std::string& name) {
  auto* o = m.mutable_graph()->add_output();
  o->set_name(name);
  o->mutable_type()->mutable_tensor_type()->set_elem_type(TensorProto::FLOAT);
}

::onnx::NodeProto* add_node(ModelProto& m, const std::string& op, std::vector<std::string> in,
                            std::vector<std::string> out, const std::string& name = "") {
  auto* n = m.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(name.empty() ? op + "_0" : name);
  for (auto& s : in) n->add_input(s);
  for (auto& s : out) n->add_output(s);
  return n;
}

TensorProto* add_initializer(ModelProto& m, const std::string& name, std::vector<int64_t> dims,
                             std::vector<float> v) {
  TensorProto* t = m.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  for (float x : v) t->add_float_data(x);
  return t;
}

std::string bytes(const ModelProto& m) {
  return m.SerializeAsString();
}

// The message of `f`'s exception of type E (fails the test if none).
template <class E, class F>
std::string message(F f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception";
  return "";
}

// x [1, 2, 3, 3] -> Conv (w [2, 2, 3, 3], b, pads 1) -> Relu -> y
ModelProto conv_relu() {
  ModelProto m = base_model();
  add_input(m, "x", {1, 2, 3, 3});
  std::vector<float> w(36);
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(i % 7) * 0.25f - 0.5f;
  add_initializer(m, "w", {2, 2, 3, 3}, w);
  add_initializer(m, "b", {2}, {0.5f, -0.25f});
  auto* conv = add_node(m, "Conv", {"x", "w", "b"}, {"c"}, "conv1");
  auto* pads = conv->add_attribute();
  pads->set_name("pads");
  pads->set_type(::onnx::AttributeProto::INTS);
  for (int i = 0; i < 4; ++i) pads->add_ints(1);
  add_node(m, "Relu", {"c"}, {"y"});
  add_output(m, "y");
  return m;
}

TEST(OnnxImport, ConvReluComputesWhatTheEnginesGraphDoes) {
  const onnx::Model model = onnx::import_bytes(bytes(conv_relu()), "conv_relu.onnx");
  EXPECT_EQ(model.inputs, std::vector<std::string>{"x"});
  EXPECT_EQ(model.outputs, std::vector<std::string>{"y"});
  ASSERT_EQ(model.weights.size(), 2u);
  EXPECT_EQ(model.weights[0].name, "w");
  auto ref = make_ref_backend();
  auto plan = compile(model.graph, *ref);
  Session s(*plan);
  model.load_weights(s);
  std::vector<float> x(18);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i) * 0.1f - 0.8f;
  s.set_input("x", std::span<const float>(x));
  s.run();
  const std::vector<double> got = s.output("y");
  // The same network built directly, in f64.
  auto g = std::make_shared<Graph>(DType::f64);
  const ValueId xv = g->input("x", {1, 2, 3, 3}), wv = g->input("w", {2, 2, 3, 3}),
                bv = g->input("b", {1, 2, 1, 1});
  g->mark_output(g->relu(g->add(g->conv2d(xv, wv, 1, 1), bv)), "y");
  auto p2 = compile(g, *ref);
  Session s2(*p2);
  s2.set_input("x", std::span<const float>(x));
  s2.set_input("w", std::span<const float>(model.weights[0].data));
  s2.set_input("b", std::span<const float>(model.weights[1].data));
  s2.run();
  const std::vector<double> want = s2.output("y");
  ASSERT_EQ(got.size(), want.size());
  double nonzero = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-5) << i;
    nonzero += want[i] != 0;
  }
  EXPECT_GT(nonzero, 4);  // the relu passes some values
}

TEST(OnnxImport, TruncatedFileIsRefusedNamingIt) {
  const std::string b = bytes(conv_relu());
  const std::string msg =
      message<onnx::FileError>([&] { onnx::import_bytes(b.substr(0, b.size() / 2), "cut.onnx"); });
  EXPECT_NE(msg.find("cut.onnx"), std::string::npos) << msg;
}

TEST(OnnxImport, MissingFileIsRefusedNamingIt) {
  const std::string msg =
      message<onnx::FileError>([&] { onnx::import_file("/nonexistent/model.onnx"); });
  EXPECT_NE(msg.find("/nonexistent/model.onnx"), std::string::npos) << msg;
}

TEST(OnnxImport, AbsurdDimensionsAreRefused) {
  ModelProto m = conv_relu();
  TensorProto* t = m.mutable_graph()->mutable_initializer(1);
  t->clear_dims();
  t->add_dims(int64_t(1) << 40);
  t->add_dims(int64_t(1) << 40);
  const std::string msg =
      message<onnx::FileError>([&] { onnx::import_bytes(bytes(m), "huge.onnx"); });
  EXPECT_NE(msg.find("huge.onnx"), std::string::npos) << msg;
  EXPECT_NE(msg.find("absurd"), std::string::npos) << msg;
}

TEST(OnnxImport, DataOfTheWrongSizeIsRefused) {
  ModelProto m = conv_relu();
  m.mutable_graph()->mutable_initializer(1)->add_float_data(1.f);  // 3 values for [2]
  const std::string msg =
      message<onnx::FileError>([&] { onnx::import_bytes(bytes(m), "short.onnx"); });
  EXPECT_NE(msg.find("'b'"), std::string::npos) << msg;
}

// Dimensions within the limit (2^30 elements) but no data behind them: refused
// by the count of values, before any room is made for them (fuzz_onnx found
// a 4.9 GB allocation from a 150-byte file; fuzz/corpus/onnx keeps it).
TEST(OnnxImport, ClaimedDimensionsWithoutDataAreRefusedBeforeAllocating) {
  ModelProto m = conv_relu();
  TensorProto* t = m.mutable_graph()->mutable_initializer(1);
  t->clear_dims();
  t->clear_float_data();
  t->add_dims(int64_t(1) << 30);
  const std::string msg =
      message<onnx::FileError>([&] { onnx::import_bytes(bytes(m), "claims.onnx"); });
  EXPECT_NE(msg.find("claims.onnx"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'b' has 0 values, its shape [1073741824] needs 1073741824"), std::string::npos) << msg;
}

TEST(OnnxImport, MissingInitializerAndCyclesAreRefused) {
  ModelProto m = conv_relu();
  m.mutable_graph()->mutable_initializer()->RemoveLast();  // b
  std::string msg = message<onnx::FileError>([&] { onnx::import_bytes(bytes(m), "noinit.onnx"); });
  EXPECT_NE(msg.find("reads 'b'"), std::string::npos) << msg;
  // Relu reads its own output: a cycle.
  ModelProto c = base_model();
  add_input(c, "x", {1, 2});
  add_node(c, "Add", {"x", "z"}, {"y"});
  add_node(c, "Relu", {"y"}, {"z"});
  add_output(c, "z");
  msg = message<onnx::FileError>([&] { onnx::import_bytes(bytes(c), "cycle.onnx"); });
  EXPECT_NE(msg.find("cycle.onnx"), std::string::npos) << msg;
  EXPECT_NE(msg.find("reads 'z'"), std::string::npos) << msg;
}

TEST(OnnxImport, ExternalDataOutsideTheModelsFolderIsRefused) {
  const fs::path dir = fs::temp_directory_path() / "rg_onnx_external";
  fs::remove_all(dir);
  fs::create_directories(dir / "model");
  { std::ofstream(dir / "secret.bin", std::ios::binary) << std::string(8, 'x'); }
  ModelProto m = conv_relu();
  TensorProto* t = m.mutable_graph()->mutable_initializer(1);
  t->clear_float_data();
  t->set_data_location(TensorProto::EXTERNAL);
  auto* kv = t->add_external_data();
  kv->set_key("location");
  kv->set_value("../secret.bin");
  std::ofstream(dir / "model" / "m.onnx", std::ios::binary) << bytes(m);
  const std::string path = (dir / "model" / "m.onnx").string();
  std::string msg = message<onnx::FileError>([&] { onnx::import_file(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("outside the model's folder"), std::string::npos) << msg;
  // Inside the folder it is read.
  std::ofstream(dir / "model" / "b.bin", std::ios::binary) << std::string(8, '\0');
  kv->set_value("b.bin");
  std::ofstream(dir / "model" / "m.onnx", std::ios::binary) << bytes(m);
  EXPECT_NO_THROW(onnx::import_file(path));
  fs::remove_all(dir);
}

TEST(OnnxImport, UnsupportedOpAndAttributeAreNamed) {
  ModelProto m = conv_relu();
  m.mutable_graph()->mutable_node(1)->set_op_type("Selu");
  std::string msg =
      message<onnx::UnsupportedError>([&] { onnx::import_bytes(bytes(m), "selu.onnx"); });
  EXPECT_NE(msg.find("Selu"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Relu_0"), std::string::npos) << msg;
  ModelProto a = conv_relu();
  auto* attr = a.mutable_graph()->mutable_node(0)->add_attribute();
  attr->set_name("frobnicate");
  attr->set_type(::onnx::AttributeProto::INT);
  attr->set_i(1);
  msg = message<onnx::UnsupportedError>([&] { onnx::import_bytes(bytes(a), "attr.onnx"); });
  EXPECT_NE(msg.find("conv1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(Conv)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("frobnicate"), std::string::npos) << msg;
}

TEST(OnnxImport, OpsetsOutsideSevenToTwentyOneAreRefused) {
  ModelProto m = conv_relu();
  m.mutable_opset_import(0)->set_version(6);
  const std::string msg =
      message<onnx::UnsupportedError>([&] { onnx::import_bytes(bytes(m), "old.onnx"); });
  EXPECT_NE(msg.find("opset 6"), std::string::npos) << msg;
}

TEST(OnnxImport, InputsThatFixShapesMustBeGivenAtImport) {
  ModelProto m = base_model();
  add_input(m, "x", {2, 6});
  add_input(m, "shape", {2}, TensorProto::INT64);
  add_node(m, "Reshape", {"x", "shape"}, {"y"});
  add_output(m, "y");
  try {
    onnx::import_bytes(bytes(m), "reshape.onnx");
    ADD_FAILURE() << "imported";
  } catch (const onnx::NeedsConstantError& e) {
    EXPECT_EQ(e.input, "shape");
  }
  onnx::ImportOptions opt;
  opt.constant_inputs["shape"] = {3, -1};
  const onnx::Model model = onnx::import_bytes(bytes(m), "reshape.onnx", opt);
  EXPECT_EQ(model.inputs, std::vector<std::string>{"x"});
  EXPECT_EQ(model.graph->shape(model.graph->output("y")), (Shape{3, 4}));
}

TEST(OnnxImport, SymbolicBatchTakesTheOptionsBatch) {
  ModelProto m = conv_relu();
  auto* dim = m.mutable_graph()
                  ->mutable_input(0)
                  ->mutable_type()
                  ->mutable_tensor_type()
                  ->mutable_shape()
                  ->mutable_dim(0);
  dim->set_dim_param("N");
  onnx::ImportOptions opt;
  opt.batch = 5;
  const onnx::Model model = onnx::import_bytes(bytes(m), "batch.onnx", opt);
  EXPECT_EQ(model.graph->shape(model.graph->output("y")), (Shape{5, 2, 3, 3}));
}

// Shape arithmetic on constants folds at import (old exporters' Flatten):
// Shape -> Gather -> Unsqueeze -> Concat -> Reshape.
TEST(OnnxImport, ShapeArithmeticFolds) {
  ModelProto m = base_model(11);
  add_input(m, "x", {3, 2, 2});
  add_node(m, "Shape", {"x"}, {"s"});
  TensorProto* zero = m.mutable_graph()->add_initializer();
  zero->set_name("zero");
  zero->set_data_type(TensorProto::INT64);
  zero->add_int64_data(0);
  add_node(m, "Gather", {"s", "zero"}, {"n"});
  auto* u = add_node(m, "Unsqueeze", {"n"}, {"n1"});
  auto* axes = u->add_attribute();
  axes->set_name("axes");
  axes->set_type(::onnx::AttributeProto::INTS);
  axes->add_ints(0);
  TensorProto* minus1 = m.mutable_graph()->add_initializer();
  minus1->set_name("minus1");
  minus1->set_data_type(TensorProto::INT64);
  minus1->add_dims(1);
  minus1->add_int64_data(-1);
  auto* cat = add_node(m, "Concat", {"n1", "minus1"}, {"shape"});
  auto* axis = cat->add_attribute();
  axis->set_name("axis");
  axis->set_type(::onnx::AttributeProto::INT);
  axis->set_i(0);
  add_node(m, "Reshape", {"x", "shape"}, {"y"});
  add_output(m, "y");
  const onnx::Model model = onnx::import_bytes(bytes(m), "flatten.onnx");
  EXPECT_EQ(model.graph->shape(model.graph->output("y")), (Shape{3, 4}));
  EXPECT_TRUE(model.weights.empty());  // nothing of the arithmetic reaches the graph
}

}  // namespace
}  // namespace rg
