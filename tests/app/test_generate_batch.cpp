// SPDX-License-Identifier: Apache-2.0
// `ralsgan generate`'s network half (apps/ralsgan/generate_batch.h): a batch
// allocates nothing once the session exists, and an image depends on its
// index, not on its place in the batch (docs/contracts.md §5).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "apps/model/ralsgan_step.h"
#include "apps/ralsgan/generate_batch.h"
#include <algorithm>
#include <string>

#include "apps/ralsgan/backend_select.h"
#include "engine/plan.h"
#include "rg/session.h"
#include "tests/common/allocation_counter.h"  // replaces the allocation functions of this test binary

using rg::testing_alloc::allocations;
using rg::testing_alloc::counting;
using rg::testing_alloc::largest;

namespace rg::app {
namespace {

// On every CPU backend of this build: the oneDNN backend keeps G's images in
// a blocked or NHWC layout, so reading them is a reorder, made once and reused.
void check_batches_allocate_nothing(const std::string& backend) {
  SCOPED_TRACE("backend " + backend);
  const model::ModelConfig cfg{32, 0.125, 16};
  const int batch = 3;
  const model::GenerateGraph gg = model::build_generate_graph(cfg, batch, DType::f32);
  BackendRequest req;
  req.name = backend;
  req.threads = 1;
  SelectedBackend be = make_backend(req);
  auto plan = compile(gg.graph, *be.backend);
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
  largest = 0;
  counting = true;
  for (int i = 0; i < 3; ++i) gen.run(11, 0, 2, b);  // indices 11, 12 and a padding row
  counting = false;
  if (backend == "ref") {
    EXPECT_EQ(allocations.load(), 0) << "heap allocations in 3 batches";
  } else {
    // oneDNN 2.6 builds a small std::unordered_map of arguments inside every
    // primitive execute (tests/onednn: RunningATrainingStepAllocatesNoBuffers);
    // nothing larger may be allocated: no reorder primitive, memory object or
    // image copy (making the output reorder at every read allocated 728 bytes;
    // the argument maps' nodes and buckets are 112 bytes here).
    std::printf("%s: %ld small heap allocations in 3 batches (largest %zu bytes)\n", backend.c_str(),
                allocations.load(), largest.load());
    EXPECT_LE(largest.load(), size_t(512)) << "largest heap allocation in 3 batches";
  }
  // Index 11 is row 1 of the first batch and row 0 of the second: the same image, bit for bit.
  EXPECT_EQ(std::memcmp(&a[per], &b[0], per * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(&a[2 * per], &b[per], per * sizeof(float)), 0);
  EXPECT_NE(std::memcmp(&a[0], &a[per], per * sizeof(float)),
            0);  // different indices, different images
}

TEST(GenerateBatch, ABatchAllocatesNothingAndImagesFollowTheirIndex) {
  const std::vector<std::string> built = available_backends();
  for (const char* name : {"ref", "cpu"}) {
    if (std::find(built.begin(), built.end(), name) == built.end()) {
      std::printf("note: backend %s is not built; checked the others\n", name);
      continue;
    }
    check_batches_allocate_nothing(name);
  }
}

}  // namespace
}  // namespace rg::app
