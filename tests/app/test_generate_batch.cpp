// `ralsgan generate`'s network half (apps/ralsgan/generate_batch.h): a batch
// allocates nothing once the session exists, and an image depends on its
// index, not on its place in the batch (docs/contracts.md §5).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "apps/model/ralsgan_step.h"
#include "apps/ralsgan/generate_batch.h"
#include "backends/ref/ref_backend.h"
#include "engine/session.h"
#include "tests/common/allocation_counter.h"  // replaces the allocation functions of this test binary

using rg::testing_alloc::allocations;
using rg::testing_alloc::counting;

namespace rg::app {
namespace {

TEST(GenerateBatch, ABatchAllocatesNothingAndImagesFollowTheirIndex) {
  const model::ModelConfig cfg{32, 0.125, 16};
  const int batch = 3;
  const model::GenerateGraph gg = model::build_generate_graph(cfg, batch, DType::f32);
  auto be = make_ref_backend();
  auto plan = compile(gg.graph, *be);
  Session s(*plan);
  // Random convolution weights, BatchNorm as identity: images differ with their latents.
  uint32_t state = 1;
  for (const VariableInfo& v : gg.graph->variables()) {
    if (v.desc.dtype != DType::f32) continue;
    const bool conv = v.desc.rank() == 4,
               one = v.name.ends_with("running_var") || v.name.ends_with(".weight");
    std::vector<float> w(size_t(v.desc.numel()), one ? 1.0f : 0.0f);
    for (float& e : w)
      if (conv) e = float(int((state = state * 1664525u + 1013904223u) >> 24) - 128) / 1024.0f;
    s.set_variable(v.name, std::span<const float>(w));
  }
  BatchGenerator gen(s, cfg.nz, batch, /*seed=*/7, {});
  const size_t per = size_t(3) * 32 * 32;
  std::vector<float> a(batch * per), b(batch * per);
  gen.run(10, 0, 3, a);  // warm-up; indices 10, 11, 12
  allocations = 0;
  counting = true;
  for (int i = 0; i < 3; ++i) gen.run(11, 0, 2, b);  // indices 11, 12 and a padding row
  counting = false;
  EXPECT_EQ(allocations.load(), 0) << "heap allocations per batch";
  // Index 11 is row 1 of the first batch and row 0 of the second: the same image, bit for bit.
  EXPECT_EQ(std::memcmp(&a[per], &b[0], per * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(&a[2 * per], &b[per], per * sizeof(float)), 0);
  EXPECT_NE(std::memcmp(&a[0], &a[per], per * sizeof(float)),
            0);  // different indices, different images
}

}  // namespace
}  // namespace rg::app
