// SPDX-License-Identifier: Apache-2.0
// The forward-only ops Inception needs, and the Inception graph itself, against
// PyTorch 1.13 (tools/inception/make_inception_golden.py).
#include <gtest/gtest.h>

#if RALSGAN_HAVE_ONEDNN
#include "rg/backend_onednn.h"
#endif
#if RALSGAN_HAVE_CUDA
#include <cstdlib>

#include "backends/cuda/cuda_backend.h"
#endif

#include <algorithm>
#include <cmath>

#include "apps/metrics/inception.h"
#include "engine/backend.h"
#include "rg/backend_ref.h"
#include "rg/safetensors.h"
#include "engine/fusion.h"
#include "engine/plan.h"
#include "engine/schedule.h"
#include "rg/session.h"
#include "graph/graph.h"
#include "rg/autodiff.h"

namespace rg {
namespace {

std::string golden(const std::string& name) { return std::string(RG_SOURCE_DIR) + "/tests/metrics/golden/" + name; }

const io::SafetensorsContents& ops() {
  static const io::SafetensorsContents f = io::read_safetensors(golden("ops_golden.safetensors"));
  return f;
}

// max |a - b| / max(max |b|, 1e-30)
double rel_max(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0, m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, std::abs(a[i] - b[i])), m = std::max(m, std::abs(b[i]));
  return d / std::max(m, 1e-30);
}

using BackendFactory = std::function<std::unique_ptr<Backend>()>;

#if RALSGAN_HAVE_CUDA
// The host emulator compiles the generated kernels with $CXX: this build's compiler.
const bool kHostCompiler = [] { return setenv("CXX", RG_HOST_CXX, 0) == 0; }();
#endif

// Every backend of this build that runs the forward-only ops natively or as
// reference kernels: ref, the CUDA backend's generated kernels on the host
// emulator, and the CUDA backend itself when a GPU is present.
std::vector<std::pair<std::string, BackendFactory>> op_backends() {
  std::vector<std::pair<std::string, BackendFactory>> r = {{"ref", [] { return make_ref_backend(); }}};
#if RALSGAN_HAVE_CUDA
  r.push_back({"cuda host emulator", [] { return make_cuda_host_emulator(); }});
  if (cuda_device_count() > 0) r.push_back({"cuda", [] { return make_cuda_backend(); }});
#endif
  return r;
}

// Runs `op` on the golden inputs `ins` (fed as graph inputs) in dtype `t`.
std::vector<double> run_op(DType t, const std::vector<std::string>& ins,
                           const std::function<ValueId(Graph&, const std::vector<ValueId>&)>& op,
                           const BackendFactory& backend = [] { return make_ref_backend(); }) {
  auto g = std::make_shared<Graph>(t);
  std::vector<ValueId> xs;
  for (const std::string& n : ins) xs.push_back(g->input(n, ops().tensors.at(n).shape));
  const ValueId y = op(*g, xs);
  g->mark_output(y);
  auto be = backend();
  auto plan = compile(g, *be);
  Session s(*plan);
  for (const std::string& n : ins) {
    const std::vector<double> v = io::to_f64(ops().tensors.at(n));
    s.set_input(n, std::span<const double>(v));
  }
  s.run();
  return s.value(y);
}

void expect_op(const std::string& want, const std::vector<std::string>& ins,
               const std::function<ValueId(Graph&, const std::vector<ValueId>&)>& op, double tol64, double tol32) {
  const std::vector<double> ref = io::to_f64(ops().tensors.at(want));
  for (const auto& [name, backend] : op_backends()) {
    EXPECT_LE(rel_max(run_op(DType::f64, ins, op, backend), ref), tol64) << want << " (f64, " << name << ")";
    EXPECT_LE(rel_max(run_op(DType::f32, ins, op, backend), ref), tol32) << want << " (f32, " << name << ")";
  }
}

TEST(InceptionOps, PoolingMatchesPyTorch) {
  expect_op("pool.max_k3s2p0", {"pool.x"}, [](Graph& g, auto x) { return g.max_pool2d(x[0], {3, 3}, {2, 2}); }, 1e-15, 1e-7);
  expect_op("pool.max_k3s1p1", {"pool.x"}, [](Graph& g, auto x) { return g.max_pool2d(x[0], {3, 3}, {1, 1}, {1, 1}); }, 1e-15, 1e-7);
  expect_op("pool.avg_k3s1p1_excl", {"pool.x"},
            [](Graph& g, auto x) { return g.avg_pool2d(x[0], {3, 3}, {1, 1}, {1, 1}, false); }, 1e-14, 1e-6);
  expect_op("pool.avg_k3s1p1_incl", {"pool.x"},
            [](Graph& g, auto x) { return g.avg_pool2d(x[0], {3, 3}, {1, 1}, {1, 1}, true); }, 1e-14, 1e-6);
  expect_op("pool.avg_k3s2p1_excl", {"pool.x"},
            [](Graph& g, auto x) { return g.avg_pool2d(x[0], {3, 3}, {2, 2}, {1, 1}, false); }, 1e-14, 1e-6);
  expect_op("pool.avg_k2s2p0", {"pool.x"}, [](Graph& g, auto x) { return g.avg_pool2d(x[0], {2, 2}, {2, 2}); }, 1e-14, 1e-6);
}

TEST(InceptionOps, BilinearResizeMatchesInterpolate) {
  // 64 -> 299 (stored as F32 from PyTorch's float64 result) and a downscale to 23 x 40.
  expect_op("resize.up_299", {"resize.x"}, [](Graph& g, auto x) { return g.resize_bilinear(x[0], 299, 299); }, 1e-7, 1e-6);
  expect_op("resize.down_23x40", {"resize.x"}, [](Graph& g, auto x) { return g.resize_bilinear(x[0], 23, 40); }, 1e-14, 1e-6);
}

TEST(InceptionOps, ConcatMatchesCat) {
  expect_op("concat.axis1", {"concat.a", "concat.b", "concat.c"}, [](Graph& g, auto x) { return g.concat(x, 1); }, 0, 1e-7);
}

TEST(InceptionOps, ConcatAlongLastAxisAndShapeErrors) {
  Graph g;
  const ValueId a = g.input("a", {2, 3, 4, 5}), b = g.input("b", {2, 3, 4, 2}), c = g.input("c", {2, 3, 3, 2});
  EXPECT_EQ(g.shape(g.concat({a, b}, -1)), (Shape{2, 3, 4, 7}));
  EXPECT_EQ(g.shape(g.concat({a}, 0)), (Shape{2, 3, 4, 5}));
  EXPECT_THROW(g.concat({a, c}, 3), GraphError);
  EXPECT_THROW(g.concat({a, b}, 4), GraphError);
  EXPECT_THROW(g.add_node(OpKind::kConcat, {}, OpAttrs{}), GraphError);
  EXPECT_THROW(g.max_pool2d(a, {3, 3}, {1, 1}, {3, 3}), GraphError);  // padding not below the kernel
  EXPECT_EQ(g.shape(g.max_pool2d(a, {3, 3}, {2, 2})), (Shape{2, 3, 1, 2}));
  EXPECT_EQ(g.shape(g.resize_bilinear(a, 299, 299)), (Shape{2, 3, 299, 299}));
  // Values of concat along the last axis against the golden [a, a[..., :2]].
  auto gg = std::make_shared<Graph>(DType::f64);
  const ValueId x = gg->input("x", {2, 3, 4, 5});
  const ValueId y = gg->concat({x, x}, 3);
  gg->mark_output(y);
  auto be = make_ref_backend();
  auto plan = compile(gg, *be);
  Session s(*plan);
  const std::vector<double> av = io::to_f64(ops().tensors.at("concat.a"));
  s.set_input("x", std::span<const double>(av));
  s.run();
  const std::vector<double> out = s.value(y), want = io::to_f64(ops().tensors.at("concat.axis3"));
  for (int r = 0; r < 24; ++r)
    for (int k = 0; k < 7; ++k) EXPECT_EQ(out[size_t(r * 10 + k)], want[size_t(r * 7 + k)]);
}

TEST(InceptionOps, AutodiffRejectsForwardOnlyOps) {
  Graph g;
  const ValueId w = g.variable("w", {1, 2, 6, 6});
  const ValueId loss = g.mean(g.resize_bilinear(g.max_pool2d(w, {2, 2}, {2, 2}), 5, 5));
  try {
    gradients(g, loss, {w});
    FAIL() << "expected GraphError";
  } catch (const GraphError& e) {
    EXPECT_NE(std::string(e.what()).find("has no gradient rule"), std::string::npos) << e.what();
  }
}

// Inception-v3 (FID variant) at width 1/8 with random weights: our features
// against PyTorch's, in f32 and f64.
class InceptionGolden : public ::testing::Test {
 protected:
  static const io::SafetensorsContents& file() {
    static const io::SafetensorsContents f = io::read_safetensors(golden("inception_w8.safetensors"));
    return f;
  }
  static Eigen::MatrixXd run(DType t, int batch, std::function<std::unique_ptr<Backend>()> backend = {}) {
    metrics::InceptionOptions o;
    o.make_backend = std::move(backend);
    o.weights = golden("inception_w8.safetensors");
    o.width = 0.125;
    o.batch = batch;
    o.dtype = t;
    metrics::InceptionExtractor net(o);
    const auto& im = file().tensors.at("golden.images");
    const int64_t n = im.shape[0], sz = im.shape[1];
    std::vector<const uint8_t*> ptrs;
    for (int64_t i = 0; i < n; ++i)
      ptrs.push_back(reinterpret_cast<const uint8_t*>(im.bytes.data()) + i * sz * sz * 3);
    return net.features(ptrs, int(sz));
  }
  static double rel(const Eigen::MatrixXd& got, const std::string& name) {
    const std::vector<double> want = io::to_f64(file().tensors.at(name));
    const auto& shape = file().tensors.at(name).shape;
    EXPECT_EQ(got.rows(), shape[0]);
    EXPECT_EQ(got.cols(), shape[1]);
    std::vector<double> g;
    for (Eigen::Index i = 0; i < got.rows(); ++i)
      for (Eigen::Index j = 0; j < got.cols(); ++j) g.push_back(got(i, j));
    return rel_max(g, want);
  }
};

TEST_F(InceptionGolden, GraphUsesEveryWeightOfTheFile) {
  Graph g;
  const metrics::InceptionGraph net = metrics::build_inception(g, 1, 64, 0.125);
  size_t weights = 0;
  for (const auto& [name, t] : file().tensors) weights += name.rfind("golden.", 0) != 0;
  EXPECT_EQ(net.variables.size(), weights);
  EXPECT_EQ(net.feature_dim, 256);
  Graph full;
  EXPECT_EQ(metrics::build_inception(full, 1, 299, 1.0).feature_dim, 2048);
  EXPECT_EQ(full.variables().size(), 94u * 5u);  // 94 BasicConv2d, 5 tensors each
}

TEST_F(InceptionGolden, F32FeaturesMatchPyTorchWithin1e4) {
  const double d = rel(run(DType::f32, 2), "golden.features_f32");  // batch 2: the last batch is padded
  std::cout << "f32 features: max relative difference " << d << "\n";
  EXPECT_LT(d, 1e-4);
}

#if RALSGAN_HAVE_ONEDNN
// The same network on the oneDNN backend (its pooling, concat and resize run
// as reference kernels inside the oneDNN plan).
TEST_F(InceptionGolden, F32FeaturesOnOneDnnMatchPyTorchWithin1e4) {
  const double d = rel(run(DType::f32, 2, [] { return make_onednn_backend({.threads = 2}); }), "golden.features_f32");
  std::cout << "f32 features on oneDNN: max relative difference " << d << "\n";
  EXPECT_LT(d, 1e-4);
}
#endif

#if RALSGAN_HAVE_CUDA
// The whole network with the CUDA backend's generated kernels (pooling, concat
// and resize included), run by the host emulator; and on the GPU when present.
TEST_F(InceptionGolden, F32FeaturesOnTheCudaHostEmulatorMatchPyTorchWithin1e4) {
  const double d = rel(run(DType::f32, 2, [] { return make_cuda_host_emulator(); }), "golden.features_f32");
  std::cout << "f32 features on the CUDA host emulator: max relative difference " << d << "\n";
  EXPECT_LT(d, 1e-4);
}

// No GPU needed: NVRTC compiles every kernel of the full-size network (f32 and f64).
TEST(InceptionOnCuda, EveryKernelOfTheFullNetworkCompilesWithNvrtc) {
  for (DType t : {DType::f32, DType::f64}) {
    auto g = std::make_shared<Graph>(t);
    metrics::build_inception(*g, 4, 299, 1.0);
    const std::vector<NodeId> order = schedule(*g);
    const int n = cuda_codegen_check(*g, fuse(*g, order), 90);
    std::cout << "Inception-v3 (" << dtype_name(t) << "): " << n << " distinct NVRTC kernels\n";
    EXPECT_GT(n, 20);
  }
}

TEST_F(InceptionGolden, F32FeaturesOnCudaMatchPyTorchWithin1e4) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA GPU: cudaGetDeviceCount failed or returned 0";
  const double d = rel(run(DType::f32, 2, [] { return make_cuda_backend(); }), "golden.features_f32");
  std::cout << "f32 features on CUDA: max relative difference " << d << "\n";
  EXPECT_LT(d, 1e-4);
}
#endif

TEST_F(InceptionGolden, F64FeaturesMatchPyTorchF64) {
  const double d = rel(run(DType::f64, 3), "golden.features_f64");
  std::cout << "f64 features: max relative difference " << d << "\n";
  EXPECT_LT(d, 1e-10);
}

TEST_F(InceptionGolden, ClearErrorsForBadWeights) {
  metrics::InceptionOptions o;
  EXPECT_THROW(metrics::InceptionExtractor{o}, std::runtime_error);  // no file given
  o.weights = golden("inception_w8.safetensors");
  o.width = 1.0;  // wrong width: shapes differ
  try {
    metrics::InceptionExtractor net(o);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("Conv2d_1a_3x3.conv.weight"), std::string::npos) << e.what();
  }
  o.weights = golden("no_such_file.safetensors");
  EXPECT_THROW(metrics::InceptionExtractor{o}, std::runtime_error);
}

}  // namespace
}  // namespace rg
