// One training step of the Fashion-MNIST classifier (apps/classifier) against
// PyTorch (tools/golden/make_classifier_golden.py): the reference backend in
// f64 and f32 and, when built, the oneDNN backend in f32. Loss,
// log-probabilities, every gradient, the updated parameters and Adam's moments.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "apps/classifier/classifier_model.h"
#include "backends/ref/ref_backend.h"
#include "engine/io/safetensors.h"
#include "engine/session.h"
#include "tests/common/golden_step.h"
#ifdef RALSGAN_HAVE_ONEDNN
#include "backends/onednn/onednn_backend.h"
#endif

namespace rg {
namespace {

using classifier::ClassifierConfig;
using testing_golden::golden_path;
using testing_golden::rel_distance;

ClassifierConfig config_of(const io::SafetensorsContents& f) {
  const auto& m = f.metadata;
  ClassifierConfig c;
  c.batch = std::stoi(m.at("batch"));
  c.conv1_channels = std::stoi(m.at("conv1_channels"));
  c.conv2_channels = std::stoi(m.at("conv2_channels"));
  c.lr = std::stod(m.at("lr"));
  c.beta1 = std::stod(m.at("beta1"));
  c.beta2 = std::stod(m.at("beta2"));
  c.adam_eps = std::stod(m.at("eps"));
  return c;
}

// Runs the golden step on `backend` and checks every tensor the file has
// against `tol` (relative distance). Updated parameters are compared only
// where the golden gradient is not tiny: Adam's first step is about
// lr * sign(grad), which rounding may flip where the gradient is ~0.
void check_step(Backend& backend, DType t, const std::string& file, double tol) {
  const io::SafetensorsContents f = io::read_safetensors(golden_path(file));
  const ClassifierConfig cfg = config_of(f);
  const classifier::ClassifierGraph st = classifier::build_classifier_step(cfg, t, true);
  auto plan = compile(st.graph, backend);
  Session s(*plan);
  auto golden = [&](const std::string& name) { return io::to_f64(f.tensors.at(name)); };
  for (const classifier::ParamSpec& p : classifier::classifier_parameters(cfg)) {
    const std::vector<double> v = golden("init." + p.name);
    s.set_variable(p.name, std::span<const double>(v));
  }
  for (const char* in : {"images", "labels"}) {
    const std::vector<double> v = golden(in);
    s.set_input(in, std::span<const double>(v));
  }
  s.run();
  EXPECT_LT(rel_distance(s.value(st.loss), golden("loss")), tol) << file << ": loss";
  EXPECT_LT(rel_distance(s.value(st.log_probs), golden("log_probs")), tol) << file << ": log_probs";
  for (const classifier::ParamSpec& p : classifier::classifier_parameters(cfg)) {
    const std::vector<double> grad = golden("grad." + p.name);
    EXPECT_LT(rel_distance(s.value(st.grads.at(p.name)), grad), tol) << file << ": grad." << p.name;
    for (const char* moment : {".exp_avg", ".exp_avg_sq"})
      EXPECT_LT(
          rel_distance(s.variable("adam." + p.name + moment), golden("adam." + p.name + moment)),
          tol)
          << file << ": adam." << p.name << moment;
    double largest = 0;
    for (double g : grad) largest = std::max(largest, std::abs(g));
    const std::vector<double> init = golden("init." + p.name), want = golden("new." + p.name),
                              got = s.variable(p.name);
    std::vector<double> step_got,
        step_want;  // the update (new - init), where the gradient decides its sign
    for (size_t i = 0; i < grad.size(); ++i)
      if (std::abs(grad[i]) > 1e-3 * largest)
        step_got.push_back(got[i] - init[i]), step_want.push_back(want[i] - init[i]);
    EXPECT_GT(step_got.size(), grad.size() * 9 / 10)
        << file << ": " << p.name << " has too many tiny gradients";
    EXPECT_LT(rel_distance(step_got, step_want), tol) << file << ": update of " << p.name;
  }
}

TEST(ClassifierStep, ReferenceF64MatchesPyTorch) {
  auto be = make_ref_backend();
  check_step(*be, DType::f64, "classifier_step_f64.safetensors", 1e-10);
}

TEST(ClassifierStep, ReferenceF32MatchesPyTorch) {
  auto be = make_ref_backend();
  check_step(*be, DType::f32, "classifier_step_f32.safetensors", 1e-5);
}

#ifdef RALSGAN_HAVE_ONEDNN
TEST(ClassifierStep, OneDnnF32MatchesPyTorch) {
  auto be = make_onednn_backend({.threads = 2});
  check_step(*be, DType::f32, "classifier_step_f32.safetensors", 1e-5);
}
#endif

}  // namespace
}  // namespace rg
