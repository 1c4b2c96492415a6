// SPDX-License-Identifier: Apache-2.0
// The conv-net op set against PyTorch (tools/golden/make_op_golden.py): each
// op on every backend of this build, in f64 where the backend computes it
// (ref, the CUDA emulator) and in f32, with the golden inputs fed as graph
// inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "rg/safetensors.h"
#include "engine/plan.h"
#include "rg/session.h"
#include "tests/common/op_cases.h"
#include "tests/ops/backends_under_test.h"

namespace rg {
namespace {

const io::SafetensorsContents& golden() {
  static const io::SafetensorsContents f =
      io::read_safetensors(std::string(RG_SOURCE_DIR) + "/tests/ops/golden/ops.safetensors");
  return f;
}

std::vector<double> tensor(const std::string& name) {
  return io::to_f64(golden().tensors.at(name));
}

// max |a - b| / max |b|
double rel_max(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0, m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    d = std::max(d, std::abs(a[i] - b[i])), m = std::max(m, std::abs(b[i]));
  return d / std::max(m, 1e-300);
}

using Build = std::function<ValueId(Graph&, const std::vector<ValueId>&)>;

// Runs the case `name` (inputs name.<in> for each of `ins`) through `build`
// on every backend and compares with name.y.
// `cudnn_refuses`: a GPU's CUDA backend must refuse the graph, as cuDNN
// cannot express its padding (testing_ops::is_cudnn_padding_refusal).
void expect_golden(const std::string& name, const std::vector<std::string>& ins, const Build& build,
                   double tol64, double tol32, bool cudnn_refuses = false) {
  const std::vector<double> want = tensor(name + ".y");
  for (const auto& nb : testing_ops::backends_under_test()) {
    auto be = nb.make();
    for (DType t : {DType::f64, DType::f32}) {
      auto g = std::make_shared<Graph>(t);
      std::vector<ValueId> xs;
      for (const std::string& in : ins)
        xs.push_back(g->input(in, golden().tensors.at(name + "." + in).shape));
      const ValueId y = build(*g, xs);
      g->mark_output(y, "y");
      std::unique_ptr<Plan> plan;
      try {
        plan = compile(g, *be);
      } catch (const std::runtime_error& e) {
        if (!cudnn_refuses || nb.name != "cuda") throw;
        EXPECT_TRUE(testing_ops::is_cudnn_padding_refusal(e)) << e.what();
        continue;
      } catch (const std::invalid_argument& e) {
        // A backend without f64 (oneDNN) refuses the graph, saying so.
        ASSERT_EQ(t, DType::f64) << nb.name << ": " << e.what();
        EXPECT_NE(std::string(e.what()).find("f64"), std::string::npos) << e.what();
        continue;
      }
      Session s(*plan);
      for (const std::string& in : ins) {
        const std::vector<double> v = tensor(name + "." + in);
        s.set_input(in, std::span<const double>(v));
      }
      s.run();
      EXPECT_LE(rel_max(s.output("y"), want), t == DType::f64 ? tol64 : tol32)
          << name << " on " << nb.name << " in " << dtype_name(t);
    }
  }
}

ValueId group_norm(Graph& g, const std::vector<ValueId>& x, int groups, double eps) {
  return g.group_norm(x[0], x[1], x[2], groups, eps);
}

TEST(OpGolden, GroupNormMatchesPyTorch) {
  expect_golden(
      "group_norm_g2", {"x", "scale", "bias"},
      [](Graph& g, auto x) { return group_norm(g, x, 2, 1e-5); }, 1e-13, 2e-6);
  expect_golden(
      "group_norm_g1", {"x", "scale", "bias"},
      [](Graph& g, auto x) { return group_norm(g, x, 1, 1e-3); }, 1e-13, 2e-6);
  expect_golden(
      "instance_norm", {"x", "scale", "bias"},
      [](Graph& g, auto x) { return group_norm(g, x, 5, 1e-5); }, 1e-13, 2e-6);
}

ValueId conv(Graph& g, const std::vector<ValueId>& x, OpKind op, std::array<int, 2> stride,
             std::array<int, 2> pad, std::array<int, 2> dilation, int groups,
             std::array<int, 2> output_padding = {0, 0}) {
  const Graph::ConvOptions o{stride, pad, dilation, output_padding, groups};
  return op == OpKind::kConv2d ? g.conv2d(x[0], x[1], o) : g.conv_transpose2d(x[0], x[1], o);
}

TEST(OpGolden, ConvolutionsWithGroupsAndDilationMatchPyTorch) {
  expect_golden(
      "conv_groups2_dilation2", {"x", "w"},
      [](Graph& g, auto x) {
        return conv(g, x, OpKind::kConv2d, {1, 2}, {2, 1}, {2, 1}, 2);
      },
      1e-13, 2e-6);
  expect_golden(
      "conv_depthwise", {"x", "w"},
      [](Graph& g, auto x) {
        return conv(g, x, OpKind::kConv2d, {2, 2}, {1, 1}, {1, 1}, 8);
      },
      1e-13, 2e-6);
  expect_golden(
      "conv_transpose_groups2_dilation2", {"x", "w"},
      [](Graph& g, auto x) {
        return conv(g, x, OpKind::kConvTranspose2d, {2, 2}, {1, 0}, {2, 2}, 2, {1, 0});
      },
      1e-13, 2e-6);
}

ValueId pool(Graph& g, ValueId x, OpKind op, int k, int s, int p, bool count_include_pad) {
  OpAttrs a;
  a.kernel = {k, k}, a.stride = {s, s}, a.padding = {p, p}, a.ceil_mode = true;
  a.count_include_pad = count_include_pad;
  return g.add_node(op, {x}, a)[0];
}

TEST(OpGolden, CeilModePoolingMatchesPyTorch) {
  expect_golden(
      "max_pool_k3s2p1_ceil", {"x"},
      [](Graph& g, auto x) { return pool(g, x[0], OpKind::kMaxPool2d, 3, 2, 1, true); }, 0,
      1e-7);  // exact, up to the inputs' rounding to f32
  expect_golden(
      "avg_pool_k3s2p1_ceil_incl", {"x"},
      [](Graph& g, auto x) { return pool(g, x[0], OpKind::kAvgPool2d, 3, 2, 1, true); }, 1e-15,
      1e-6);
  expect_golden(
      "avg_pool_k3s2p1_ceil_excl", {"x"},
      [](Graph& g, auto x) { return pool(g, x[0], OpKind::kAvgPool2d, 3, 2, 1, false); }, 1e-15,
      1e-6);
  expect_golden(
      "avg_pool_k2s2_ceil_incl", {"x"},
      [](Graph& g, auto x) { return pool(g, x[0], OpKind::kAvgPool2d, 2, 2, 0, true); }, 1e-15,
      1e-6);
}

// ONNX's asymmetric pads ([top, left, bottom, right]), against PyTorch
// padding explicitly (F.pad) and running the op without padding.
// A GPU's cuDNN refuses convolutions whose padding differs between sides.
TEST(OpGolden, AsymmetricPaddingMatchesPyTorch) {
  static constexpr bool kCudnnRefuses = true;  // cuDNN refuses these convolutions' padding
  auto conv_opts = [](std::array<int, 2> stride, std::array<int, 4> pads, int groups = 1) {
    Graph::ConvOptions o;
    o.stride = stride, o.padding = {pads[0], pads[1]}, o.padding_end = {pads[2], pads[3]},
    o.groups = groups;
    return o;
  };
  expect_golden(
      "conv_pads_1021_s2", {"x", "w"},
      [&](Graph& g, auto x) {
        return g.conv2d(x[0], x[1], conv_opts({2, 2}, {1, 0, 2, 1}));
      },
      1e-13, 2e-6, kCudnnRefuses);
  expect_golden(  // auto_pad SAME_LOWER, kernel 2: the extra row and column at the start
      "conv_same_lower_k2", {"x", "w"},
      [&](Graph& g, auto x) {
        return g.conv2d(x[0], x[1], conv_opts({1, 1}, {1, 1, 0, 0}, 2));
      },
      1e-13, 2e-6, kCudnnRefuses);
  expect_golden(
      "conv_transpose_pads_0112_s2", {"x", "w"},
      [&](Graph& g, auto x) {
        return g.conv_transpose2d(x[0], x[1], conv_opts({2, 2}, {0, 1, 1, 2}));
      },
      1e-13, 2e-6, kCudnnRefuses);
  auto pool_opts = [](int k, int s, std::array<int, 4> pads, bool count_include_pad = true) {
    Graph::PoolOptions o;
    o.kernel = {k, k}, o.stride = {s, s}, o.padding = {pads[0], pads[1]},
    o.padding_end = {pads[2], pads[3]};
    o.count_include_pad = count_include_pad;
    return o;
  };
  expect_golden(
      "max_pool_pads_0101_k3s2", {"x"},
      [&](Graph& g, auto x) {
        return g.max_pool2d(x[0], pool_opts(3, 2, {0, 0, 1, 1}));
      },
      0, 1e-7);
  expect_golden(
      "avg_pool_pads_1001_k2s2_incl", {"x"},
      [&](Graph& g, auto x) { return g.avg_pool2d(x[0], pool_opts(2, 2, {1, 0, 0, 1})); }, 1e-15, 1e-6);
  expect_golden(
      "avg_pool_pads_1001_k2s2_excl", {"x"},
      [&](Graph& g, auto x) { return g.avg_pool2d(x[0], pool_opts(2, 2, {1, 0, 0, 1}, false)); }, 1e-15, 1e-6);
}

TEST(OpGolden, ActivationsMatchPyTorch) {
  expect_golden(
      "elu", {"x"}, [](Graph& g, auto x) { return g.elu(x[0], 0.7); }, 1e-15, 1e-6);
  expect_golden(
      "clip", {"x"}, [](Graph& g, auto x) { return g.clip(x[0], -1.0, 1.5); }, 0, 1e-7);
  expect_golden(
      "hard_sigmoid", {"x"}, [](Graph& g, auto x) { return g.hard_sigmoid(x[0], 0.2, 0.5); }, 1e-15,
      1e-6);
  // HardSwish as the ONNX importer builds it: x * hard_sigmoid(x, 1/6, 1/2).
  expect_golden(
      "hard_swish", {"x"},
      [](Graph& g, auto x) { return g.mul(x[0], g.hard_sigmoid(x[0], 1.0 / 6, 0.5)); }, 1e-15,
      1e-6);
  expect_golden(
      "prelu", {"x", "slope"}, [](Graph& g, auto x) { return g.prelu(x[0], x[1]); }, 1e-15, 1e-6);
}

ValueId transpose(Graph& g, ValueId x, std::vector<int> perm) {
  return g.transpose(x, std::move(perm));
}

TEST(OpGolden, SoftmaxAlongTheChannelsMatchesPyTorch) {
  OpAttrs a;
  a.axes = {1};
  expect_golden(
      "softmax_axis1", {"x"},
      [&a](Graph& g, auto x) { return g.add_node(OpKind::kSoftmax, {x[0]}, a)[0]; }, 1e-15, 1e-6);
  expect_golden(
      "log_softmax_axis1", {"x"},
      [&a](Graph& g, auto x) { return g.add_node(OpKind::kLogSoftmax, {x[0]}, a)[0]; }, 1e-15,
      1e-6);
}

TEST(OpGolden, SoftmaxAndTransposeMatchPyTorch) {
  expect_golden(
      "softmax", {"x"}, [](Graph& g, auto x) { return g.softmax(x[0]); }, 1e-15, 1e-6);
  expect_golden(
      "transpose_1023", {"x"},
      [](Graph& g, auto x) {
        return transpose(g, x[0], {1, 0, 2, 3});
      },
      0, 1e-7);
  expect_golden(
      "channel_shuffle", {"x"},
      [](Graph& g, auto x) {
        return g.reshape(transpose(g, g.reshape(x[0], {2, 2, 3, 3, 3}), {0, 2, 1, 3, 4}),
                         {2, 6, 3, 3});
      },
      0, 1e-7);
}

// F.pad's (left, right, top, bottom) on H and W as ONNX pads (begin per axis, then end).
ValueId pad(Graph& g, ValueId x, std::array<int64_t, 4> lrtb, OpAttrs::PadMode mode,
            double value = 0) {
  return g.pad(x, {0, 0, lrtb[2], lrtb[0], 0, 0, lrtb[3], lrtb[1]}, mode, value);
}

ValueId resize_nearest(Graph& g, ValueId x, int64_t h, int64_t w) {
  return g.resize_nearest(x, h, w);
}

TEST(OpGolden, PadAndNearestResizeMatchPyTorch) {
  using M = OpAttrs::PadMode;
  expect_golden(
      "pad_constant", {"x"},
      [](Graph& g, auto x) {
        return pad(g, x[0], {1, 3, 2, 0}, M::kConstant, 0.5);
      },
      0, 1e-7);
  expect_golden(
      "pad_reflect", {"x"},
      [](Graph& g, auto x) {
        return pad(g, x[0], {2, 1, 3, 1}, M::kReflect);
      },
      0, 1e-7);
  expect_golden(
      "pad_edge", {"x"},
      [](Graph& g, auto x) {
        return pad(g, x[0], {0, 2, 1, 3}, M::kEdge);
      },
      0, 1e-7);
  expect_golden(
      "resize_nearest_up2", {"x"}, [](Graph& g, auto x) { return resize_nearest(g, x[0], 8, 10); },
      0, 1e-7);
  expect_golden(
      "resize_nearest_7x3", {"x"}, [](Graph& g, auto x) { return resize_nearest(g, x[0], 7, 3); },
      0, 1e-7);
}

// ONNX Resize's modes (OpAttrs::ResizeMode), against the F.interpolate call
// that computes each.
TEST(OpGolden, ResizeModesMatchPyTorch) {
  using Coord = OpAttrs::ResizeCoord;
  using Round = OpAttrs::NearestRound;
  auto resize = [](int64_t h, int64_t w, bool linear, Coord c, Round r, double scale = 0) {
    return [=](Graph& g, auto x) { return g.resize(x[0], h, w, linear, {c, r, {scale, scale}}); };
  };
  expect_golden("resize_linear_align_corners", {"x"},
                resize(9, 7, true, Coord::kAlignCorners, Round::kFloor), 1e-14, 1e-6);
  expect_golden("resize_nearest_half_pixel_ceil", {"x"},
                resize(7, 3, false, Coord::kHalfPixel, Round::kRoundPreferCeil), 0, 1e-7);
  expect_golden("resize_linear_scale_1p7", {"x"},
                resize(8, 10, true, Coord::kHalfPixel, Round::kFloor, 1.7), 1e-14, 1e-6);
  expect_golden("resize_nearest_scale_1p7", {"x"},
                resize(8, 10, false, Coord::kAsymmetric, Round::kFloor, 1.7), 0, 1e-7);
}

// ONNX's dilations in pooling (forward only).
TEST(OpGolden, DilatedPoolingMatchesPyTorchAndTheDefinition) {
  auto dilated = [](bool max, std::array<int, 2> k, std::array<int, 2> s, std::array<int, 2> p,
                    std::array<int, 2> d, bool ceil) {
    return [=](Graph& g, auto x) {
      Graph::PoolOptions o;
      o.kernel = k, o.stride = s, o.padding = p, o.dilation = d, o.ceil_mode = ceil, o.count_include_pad = false;
      return max ? g.max_pool2d(x[0], o) : g.avg_pool2d(x[0], o);
    };
  };
  expect_golden("max_pool_dilated_ceil", {"x"}, dilated(true, {3, 2}, {2, 1}, {1, 1}, {2, 3}, true), 0, 1e-7);
  expect_golden("avg_pool_dilated_excl", {"x"}, dilated(false, {2, 3}, {1, 2}, {1, 2}, {3, 2}, false), 1e-15,
                1e-6);
}

TEST(OpGolden, BatchedMatMulMatchesPyTorch) {
  expect_golden(
      "matmul_batch_broadcast", {"a", "b"}, [](Graph& g, auto x) { return g.matmul(x[0], x[1]); }, 1e-14, 1e-6);
}

ValueId lrn(Graph& g, ValueId x, int size, double alpha, double beta, double bias) {
  return g.lrn(x, size, alpha, beta, bias);
}

TEST(OpGolden, LrnMatchesPyTorchAndOnnx) {
  expect_golden(
      "lrn_size5", {"x"}, [](Graph& g, auto x) { return lrn(g, x[0], 5, 0.4, 0.75, 2.0); }, 1e-14,
      2e-6);
  expect_golden(
      "lrn_size4", {"x"}, [](Graph& g, auto x) { return lrn(g, x[0], 4, 0.3, 0.6, 1.0); }, 1e-14,
      2e-6);
}

TEST(OpGolden, GroupNormRefusesGroupsThatDoNotDivideTheChannels) {
  Graph g;
  const ValueId x = g.input("x", {1, 6, 2, 2}), s = g.input("s", {6}), b = g.input("b", {6});
  try {
    group_norm(g, {x, s, b}, 4, 1e-5);
    ADD_FAILURE() << "groups 4 of 6 channels accepted";
  } catch (const GraphError& e) {
    EXPECT_NE(std::string(e.what()).find("groups 4 must divide the 6 channels"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace rg
