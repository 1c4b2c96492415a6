// SPDX-License-Identifier: Apache-2.0
// --backend auto|cuda|cpu|ref: which backends this build has, and making one.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "apps/ralsgan/cli.h"
#include "engine/backend.h"
#include "engine/plan.h"
#include "rg/session.h"

namespace rg::app {

struct BackendRequest {
  std::string name = "auto";  // auto: CUDA if a GPU is present, else the oneDNN CPU backend, else ref
  int threads = 0;            // CPU threads; 0 = all cores
  std::string cuda_math = "f32";  // --cuda-math f32|tf32|bf16 (CudaPrecision)
  std::string cpu_math = "f32";   // --cpu-math f32|bf16 (OneDnnOptions::bf16); the reference backend is f32
  int device = 0;                 // --device N: the CUDA device (CudaOptions::device)
};

struct SelectedBackend {
  std::unique_ptr<Backend> backend;
  std::string name;  // "cuda", "cpu" or "ref"
  std::string math;  // "f32", "tf32" (cuda) or "bf16" (cuda, cpu)
  // What a training step's values depend on beyond the graph and its inputs:
  // the backend and math, and on cpu oneDNN's instruction set and thread
  // count ("cpu f32, avx512_core, 2 threads"); on ref the instruction set the
  // build targets. Two runs with the same string compute the same bits.
  std::string arithmetic;
};

// Throws std::invalid_argument for an unknown name and std::runtime_error when
// the named backend is not built in or has no device.
// What a backend computes on, in one line: the GPU (name, capability,
// libraries) or the CPU's model name (/proc/cpuinfo).
std::string describe_processor(const SelectedBackend& be, const BackendRequest& req);

SelectedBackend make_backend(const BackendRequest& req);
std::vector<std::string> available_backends();

// A session of `plan`: its arena and variables allocated. When memory runs out
// the error says how much `what` (e.g. "the training step (--batch 64)")
// asked for, instead of a bare std::bad_alloc.
std::unique_ptr<Session> make_session(Plan& plan, const std::string& what);

// The --backend, --threads, --cuda-math and --cpu-math flags every running
// subcommand takes, and the request they make (an unknown backend name, and
// --cpu-math bf16 on a CPU without bf16 instructions, are usage errors).
void add_backend_flags(Flags& f);
BackendRequest backend_of(const Flags& f);

}  // namespace rg::app
