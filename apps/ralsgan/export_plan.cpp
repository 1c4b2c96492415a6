// SPDX-License-Identifier: Apache-2.0
#include "apps/ralsgan/export_plan.h"

#include <cstring>
#include <map>
#include <stdexcept>

#include "apps/model/ralsgan_step.h"
#include "apps/ralsgan/backend_select.h"
#include "apps/ralsgan/checkpoint.h"
#include "apps/ralsgan/generate.h"
#include "apps/ralsgan/stop.h"
#include "engine/io/atomic_file.h"
#include "engine/memory_planner.h"
#include "engine/schedule.h"
#include "runtime/rg_generate.h"
#include "runtime/rg_runtime.h"
#if RALSGAN_HAVE_ONNX
#include "rg/onnx.h"
#endif

namespace rg::app {

namespace fs = std::filesystem;

std::vector<uint8_t> generator_plan(const ExportOptions& opt) {
  if (opt.batch < 1 || opt.batch > 4096)
    throw std::invalid_argument("--batch must be in [1, 4096]");
  const fs::path gfile = generator_file(opt.checkpoint, opt.generator);
  if (!fs::exists(gfile)) throw std::runtime_error(gfile.string() + ": no such checkpoint file");
  const io::MappedSafetensors mapped(gfile.string());  // as generate.cpp: one copy, into the session
  const io::SafetensorsView& weights = mapped.contents();
  const model::ModelConfig cfg = infer_generator_config(weights, gfile.string());
  if (cfg.nz % 4 != 0)
    throw std::runtime_error(gfile.string() + ": nz = " + std::to_string(cfg.nz) +
                             " is not a multiple of 4 (docs/contracts.md §4)");
  // As generate.cpp: the same graph, compiled by the reference backend in f32.
  const model::GenerateGraph gg = model::build_generate_graph(cfg, opt.batch, DType::f32);
  SelectedBackend be = make_backend(BackendRequest{"ref"});
  auto plan = compile(gg.graph, *be.backend);
  validate_memory_plan(*plan);
  const std::unique_ptr<Session> session =
      make_session(*plan, "export (--batch " + std::to_string(opt.batch) + ")");
  import_network(*session, weights, gfile.string(), gg.g_params, "G.");
  return encode_plan(*plan, *session, {{"z", gg.z, true}, {"images", gg.images, false}},
                     EncodeOptions{opt.weights, opt.scratch_bytes, opt.fold_batch_norm});
}

std::vector<uint8_t> runtime_images(const std::vector<uint8_t>& file, uint64_t seed, int count, int* size) {
  rg_plan p;
  if (rg_plan_validate(file.data(), file.size(), &p) != RG_OK) throw std::logic_error("runtime_images: invalid plan");
  rg_io_record z, img;
  rg_plan_io(&p, 0, &z), rg_plan_io(&p, 1, &img);
  const size_t batch = size_t(z.dims[0]), nz = size_t(z.dims[1]), s = size_t(img.dims[2]);
  *size = int(s);
  std::vector<double> arena(p.header.arena_bytes / 8 + 1);
  float* latents = rg_io_data(&p, arena.data(), 0);
  const float* images = rg_io_data(&p, arena.data(), 1);
  std::vector<uint8_t> rgb(size_t(count) * s * s * 3);
  for (size_t first = 0; first < size_t(count); first += batch) {
    for (size_t j = 0; j < batch; ++j)
      rg_latent_vector(seed, RG_STREAM_GENERATION, first + j, latents + j * nz, nz);
    if (rg_run(&p, rg_plan_weights(&p), arena.data()) != RG_OK) throw std::logic_error("runtime_images: rg_run failed");
    for (size_t j = 0; j < batch && first + j < size_t(count); ++j)
      rg_quantize_image(images + j * 3 * s * s, s, rgb.data() + (first + j) * s * s * 3);
  }
  return rgb;
}

ExportResult export_plan(const ExportOptions& opt) {
  const std::vector<uint8_t> file = generator_plan(opt);
  const fs::path gfile = generator_file(opt.checkpoint, opt.generator);

  // The last safe point: a stop before here writes nothing.
  if (stop_requested())
    throw Interrupted("export stopped by " + stop_signal_name() + " before writing; " + opt.out.string() +
                      " is as it was");
  std::error_code ec;
  fs::create_directories(opt.out, ec);
  if (ec || !fs::is_directory(opt.out))
    throw std::runtime_error("cannot create the output folder " + opt.out.string() + ": " +
                             (ec ? ec.message() : std::string("it is not a folder")));
  ExportResult r;
  r.plan_file = opt.out / "model.rgplan";
  r.header_file = opt.out / "model.h";
  // One set: a failure leaves the old plan beside the old header, never a new plan beside an old one.
  const std::string header = plan_c_header(file, gfile.filename().string(), "ralsgan export");
  io::write_files_atomic({{r.plan_file, std::span<const uint8_t>(file)},
                          {r.header_file, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(header.data()),
                                                                   header.size())}});
  const PlanStats st = plan_stats(file);
  r.file_bytes = st.file_bytes, r.arena_bytes = st.arena_bytes, r.weights_bytes = st.weights_bytes;
  r.kernels = st.kernels;
  return r;
}

void export_onnx(const fs::path& checkpoint, const fs::path& onnx_file,
                 const std::string& generator) {
#if RALSGAN_HAVE_ONNX
  const fs::path gfile = generator_file(checkpoint, generator);
  if (!fs::exists(gfile)) throw std::runtime_error(gfile.string() + ": no such checkpoint file");
  const io::MappedSafetensors mapped(gfile.string());
  const model::ModelConfig cfg = infer_generator_config(mapped.contents(), gfile.string());
  // Built for a batch of 7, a size no other axis of the generator's constants
  // takes, so the exporter can tell the batch axis (written as "N") apart.
  const model::GenerateGraph gg = model::build_generate_graph(cfg, 7, DType::f32);
  SelectedBackend be = make_backend(BackendRequest{"ref"});
  auto plan = compile(gg.graph, *be.backend);
  const std::unique_ptr<Session> session = make_session(*plan, "export");
  import_network(*session, mapped.contents(), gfile.string(), gg.g_params, "G.");
  std::vector<onnx::Weight> weights;
  for (const VariableInfo& v : gg.graph->variables()) {
    onnx::Weight w{v.name, v.desc.shape, std::vector<float>(size_t(v.desc.numel()))};
    session->read_variable(v.name, w.data.data(), DType::f32);
    weights.push_back(std::move(w));
  }
  if (stop_requested())
    throw Interrupted("export stopped by " + stop_signal_name() + " before writing; " + onnx_file.string() +
                      " is as it was");
  onnx::export_file(*gg.graph, weights, onnx_file.string());
#else
  (void)checkpoint, (void)onnx_file, (void)generator;
  throw std::runtime_error("export --onnx: this build has no ONNX support (libonnx-dev was not found)");
#endif
}

}  // namespace rg::app
