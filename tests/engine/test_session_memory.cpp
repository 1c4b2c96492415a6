// SPDX-License-Identifier: Apache-2.0
// Session with caller-owned memory (docs/library.md, "Memory"): a caller's
// arena and variables read in place from a mapped safetensors file give the
// same bits as the session's own memory loaded with set_variable; outputs are
// read by name into a caller span; the batch loop allocates nothing; bad
// caller memory is refused with a message naming it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "apps/model/ralsgan_step.h"
#include "engine/backend.h"
#include "rg/backend_ref.h"
#include "engine/plan.h"
#include "rg/session.h"
#include "rg/safetensors.h"
#include "tests/common/allocation_counter.h"  // replaces the allocation functions of this test binary
#ifdef RALSGAN_HAVE_ONEDNN
#include "rg/backend_onednn.h"
#endif

using rg::testing_alloc::allocations;
using rg::testing_alloc::counting;

namespace rg {
namespace {

struct NamedBackend {
  std::string name;
  std::function<std::unique_ptr<Backend>()> make;
};

std::vector<NamedBackend> host_backends() {
  std::vector<NamedBackend> r{{"ref", [] { return make_ref_backend(); }}};
#ifdef RALSGAN_HAVE_ONEDNN
  r.push_back({"onednn", [] { return make_onednn_backend(); }});
#endif
  return r;
}

const model::ModelConfig kSmallG{32, 0.125, 16};
constexpr int kBatch = 2;

// A generator file with one tensor per variable of the graph (values from a
// fixed LCG; running variances positive), as `ralsgan generate` would read.
std::string write_weights(const Graph& g, const std::string& file) {
  io::SafetensorsContents c;
  uint32_t state = 12345;
  auto next = [&] {
    state = state * 1664525u + 1013904223u;
    return double(state >> 8) / double(1 << 24);  // [0, 1)
  };
  for (const VariableInfo& v : g.variables()) {
    const size_t n = size_t(v.desc.numel());
    if (v.desc.dtype == DType::i64) {
      c.tensors[v.name] = io::TensorData{"I64", v.desc.shape, std::vector<std::byte>(n * 8)};
      continue;
    }
    const bool positive = v.name.ends_with("running_var");
    std::vector<float> x(n);
    for (float& e : x) e = float(positive ? 0.5 + next() : 0.2 * (next() - 0.5));
    c.tensors[v.name] = io::from_f32(x, v.desc.shape);
  }
  const std::string path = (std::filesystem::temp_directory_path() / file).string();
  io::write_safetensors(path, c);
  return path;
}

std::vector<float> latents() {
  std::vector<float> z(size_t(kBatch * kSmallG.nz));
  for (size_t i = 0; i < z.size(); ++i) z[i] = float(i % 7) * 0.25f - 0.75f;
  return z;
}

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};

TEST(SessionMemory, CallerArenaAndMappedWeightsGiveTheSameImagesWithoutACopy) {
  for (const NamedBackend& nb : host_backends()) {
    SCOPED_TRACE(nb.name);
    const model::GenerateGraph gg = model::build_generate_graph(kSmallG, kBatch, DType::f32);
    const std::string path =
        write_weights(*gg.graph, "rg_session_memory_" + nb.name + ".safetensors");
    const std::vector<float> z = latents();

    // The session's own memory, weights copied in with set_variable.
    auto be = nb.make();
    auto plan = compile(gg.graph, *be);
    Session own(*plan);
    const io::SafetensorsContents file = io::read_safetensors(path);
    for (const auto& [name, t] : file.tensors) {
      if (t.dtype == "I64")
        continue;  // num_batches_tracked: not read in eval mode, zero in both sessions
      std::vector<float> x(t.bytes.size() / 4);
      std::memcpy(x.data(), t.bytes.data(), t.bytes.size());
      own.set_variable(name, std::span<const float>(x));
    }
    own.set_input("z", std::span<const float>(z));
    own.run();
    const std::vector<float> expected = own.value_f32(gg.images);

    // The caller's: an arena it allocated, f32 weights read in place from the mapping.
    auto plan2 = compile(gg.graph, *be);
    const MemoryRequirements req = memory_requirements(*plan2);
    ASSERT_GT(req.arena_bytes, 0u);
    std::unique_ptr<void, AlignedFree> arena(
        std::aligned_alloc(req.arena_alignment, req.arena_bytes));
    const io::MappedSafetensors mapped(path);
    CallerMemory mem;
    mem.arena = arena.get();
    mem.arena_bytes = req.arena_bytes;
    for (const VariableRequirement& v : req.variables) {
      EXPECT_FALSE(v.written) << v.name;
      EXPECT_EQ(v.bytes, v.desc.bytes()) << v.name << ": plain layout";
      if (v.desc.dtype == DType::f32)
        mem.add_read_only_variable(v.name, mapped.tensor(v.name).bytes);
    }
    Session caller(*plan2, mem);
    caller.set_input("z", std::span<const float>(z));
    caller.run();
    std::vector<float> images(expected.size());
    caller.read_output("images", std::span<float>(images));
    ASSERT_EQ(images.size(), expected.size());
    EXPECT_EQ(std::memcmp(images.data(), expected.data(), images.size() * 4), 0)
        << "not bit-identical";

    // Zero-copy: the kernels read the mapping itself; the arena is the caller's.
    const int w0 = gg.graph->find_variable("G.model.0.weight");
    ASSERT_GE(w0, 0);
    EXPECT_EQ(caller.device_ptr(gg.graph->variables()[size_t(w0)].initial),
              static_cast<const void*>(mapped.tensor("G.model.0.weight").bytes.data()));
    EXPECT_GE(static_cast<char*>(caller.device_ptr(gg.images)), static_cast<char*>(arena.get()));
    EXPECT_LT(static_cast<char*>(caller.device_ptr(gg.images)),
              static_cast<char*>(arena.get()) + req.arena_bytes);
    // Read-only caller memory is never written through the session.
    EXPECT_THROW(
        caller.set_variable("G.model.0.weight", std::span<const float>(expected.data(), 1)),
        std::invalid_argument);
    std::filesystem::remove(path);
  }
}

TEST(SessionMemory, TheBatchLoopAllocatesNothing) {
  // set_input, run and read_output into a caller span: what `ralsgan generate`
  // does per batch. The oneDNN backend converts the images from its layout
  // with a reorder primitive when that layout is not plain, and oneDNN's
  // primitives allocate: only the reference backend is asserted here.
  const model::GenerateGraph gg = model::build_generate_graph(kSmallG, kBatch, DType::f32);
  auto be = make_ref_backend();
  auto plan = compile(gg.graph, *be);
  Session s(*plan);
  std::vector<float> z = latents();
  std::vector<float> images(size_t(gg.graph->desc(gg.images).numel()));
  auto batch = [&] {
    s.set_input("z", std::span<const float>(z));
    s.run();
    s.read_output("images", std::span<float>(images));
  };
  batch();  // warm-up
  allocations = 0;
  counting = true;
  for (int i = 0; i < 3; ++i) batch();
  counting = false;
  EXPECT_EQ(allocations.load(), 0) << "heap allocations in set_input + run + read_output";
  counting = true;
  const std::vector<double> copy = s.output("images");  // the allocating form is seen
  counting = false;
  EXPECT_GE(allocations.load(), 1);
  EXPECT_EQ(copy[5], double(images[5]));
}

// A graph with a state update: a counter the plan increments, a weight it reads.
struct CounterGraph {
  std::shared_ptr<Graph> g = std::make_shared<Graph>();
  CounterGraph() {
    const ValueId c = g->variable("count", {}, DType::i64);
    g->increment(c);
    const ValueId w = g->variable("w", {4});
    const ValueId x = g->input("x", {4});
    g->mark_output(g->mul(x, w), "y");
  }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(SessionMemory, BadCallerMemoryIsRefusedByName) {
  CounterGraph cg;
  auto be = make_ref_backend();
  auto plan = compile(cg.g, *be);
  const MemoryRequirements req = memory_requirements(*plan);
  ASSERT_EQ(req.variables.size(), 2u);
  EXPECT_TRUE(req.variables[0].written);   // count
  EXPECT_FALSE(req.variables[1].written);  // w
  EXPECT_EQ(req.variables[1].bytes, 16u);
  alignas(256) static std::byte block[4096];
  auto with = [&](CallerMemory m) { return error_of([&] { Session s(*plan, m); }); };

  CallerMemory small;
  small.arena = block;
  small.arena_bytes = req.arena_bytes - 1;
  EXPECT_NE(with(small).find("the arena holds"), std::string::npos) << with(small);
  CallerMemory misaligned;
  misaligned.arena = block + 4;
  misaligned.arena_bytes = sizeof(block) - 4;
  EXPECT_NE(with(misaligned).find("not aligned to 256"), std::string::npos) << with(misaligned);

  CallerMemory unknown;
  unknown.add_variable("nope", std::span<std::byte>(block, 16));
  EXPECT_NE(with(unknown).find("variable 'nope': the graph has no variable"), std::string::npos)
      << with(unknown);
  CallerMemory short_w;
  short_w.add_variable("w", std::span<std::byte>(block, 12));
  EXPECT_NE(with(short_w).find("'w' f32[4]: holds 12 bytes, needs 16"), std::string::npos)
      << with(short_w);
  CallerMemory odd_w;
  odd_w.add_variable("w", std::span<std::byte>(block + 2, 16));
  EXPECT_NE(with(odd_w).find("not aligned to its element size, 4"), std::string::npos)
      << with(odd_w);
  CallerMemory twice;
  twice.add_variable("w", std::span<std::byte>(block, 16));
  twice.add_variable("w", std::span<std::byte>(block + 16, 16));
  EXPECT_NE(with(twice).find("named twice"), std::string::npos) << with(twice);
  CallerMemory written;
  written.add_read_only_variable("count", std::span<const std::byte>(block, 8));
  EXPECT_NE(with(written).find("'count': read-only, but the plan writes"), std::string::npos)
      << with(written);

  // Writable caller memory: the counter counts in it, w is used as it is.
  alignas(8) int64_t count = 41;
  alignas(4) float w[4] = {1, 2, 3, 4};
  CallerMemory ok;
  ok.add_variable("count", std::as_writable_bytes(std::span<int64_t>(&count, 1)));
  ok.add_variable("w", std::as_writable_bytes(std::span<float>(w)));
  Session s(*plan, ok);
  const float x[4] = {0.5f, 0.5f, 0.5f, 2.0f};
  s.set_input("x", std::span<const float>(x));
  s.run();
  EXPECT_EQ(count, 42);
  EXPECT_EQ(s.output("y"), (std::vector<double>{0.5, 1.0, 1.5, 8.0}));
  s.set_variable("w", std::span<const float>(x));  // writes the caller's memory
  EXPECT_EQ(w[3], 2.0f);
  // Outputs by name: a wrong name lists the named ones; a wrong span size is refused.
  std::vector<float> three(3);
  EXPECT_NE(
      error_of([&] { s.read_output("z", std::span<float>(three)); }).find("named outputs: 'y'"),
      std::string::npos);
  EXPECT_NE(
      error_of([&] { s.read_output("y", std::span<float>(three)); }).find("the destination 3"),
      std::string::npos);
}

}  // namespace
}  // namespace rg
