// SPDX-License-Identifier: Apache-2.0
#include "apps/ralsgan/generate.h"

#include <chrono>
#include <future>
#include <limits>
#include <optional>

#include "apps/data/parallel.h"
#include "apps/model/ralsgan_step.h"
#include "engine/io/atomic_file.h"
#include "apps/ralsgan/checkpoint.h"
#include "apps/ralsgan/generate_batch.h"
#include "apps/ralsgan/image_io.h"
#include "apps/ralsgan/progress.h"
#include "apps/ralsgan/stop.h"
#include "apps/ralsgan/zip_writer.h"

namespace rg::app {

namespace fs = std::filesystem;

fs::path generator_file(const fs::path& checkpoint, const std::string& which) {
  if (which != "auto" && which != "ema" && which != "raw")
    throw std::invalid_argument("the generator must be ema or raw, got '" + which + "'");
  if (!fs::is_directory(checkpoint)) {
    if (which == "ema")
      throw std::runtime_error(
          checkpoint.string() +
          ": a generator file is used as it is; for the moving average give the run "
          "folder or its generator_ema.safetensors");
    return checkpoint;
  }
  const fs::path dir =
      fs::exists(checkpoint / "generator.safetensors") ? checkpoint : checkpoint / "checkpoint";
  const fs::path ema = dir / "generator_ema.safetensors";
  if (which == "raw" || (which == "auto" && !fs::exists(ema))) return dir / "generator.safetensors";
  if (!fs::exists(ema))
    throw std::runtime_error(ema.string() +
                             ": missing: the run has no moving-average generator (trained without "
                             "--ema-kimg); use the raw one");
  return ema;
}

template <io::SafetensorsLike Contents>
model::ModelConfig infer_generator_config(const Contents& c, const std::string& label) {
  verify_checksum(c, label, false);
  auto it = c.tensors.find("model.0.weight");
  if (it == c.tensors.end() || it->second.shape.size() != 4)
    throw std::runtime_error(label + ": tensor 'model.0.weight' is missing or not 4-d; not a generator state_dict");
  int bn = 0;
  for (const auto& [k, t] : c.tensors) bn += k.ends_with(".running_mean");
  const int nb = bn - 1;
  if (nb < 3 || nb > 6) throw std::runtime_error(label + ": " + std::to_string(bn) + " BatchNorm layers; not a generator of size 32..256");
  model::ModelConfig cfg;
  cfg.nz = int(it->second.shape[0]);
  cfg.size = 4 << nb;
  cfg.width = double(it->second.shape[1]) / double(32 << nb);
  check_network_file(c, label, model::generator_params(cfg));
  return cfg;
}
template model::ModelConfig infer_generator_config(const io::SafetensorsContents&, const std::string&);
template model::ModelConfig infer_generator_config(const io::SafetensorsView&, const std::string&);

model::ModelConfig infer_generator_config(const fs::path& file) {
  if (!fs::exists(file)) throw std::runtime_error(file.string() + ": no such checkpoint file");
  return infer_generator_config(io::MappedSafetensors(file.string()).contents(), file.string());
}

void validate_generate_options(const GenerateOptions& opt) {
  if (opt.count > 0 && opt.start_index > std::numeric_limits<uint64_t>::max() - (opt.count - 1))
    throw std::invalid_argument("--start-index " + std::to_string(opt.start_index) + " with --count " +
                                std::to_string(opt.count) + " goes past the last image index, 2^64 - 1");
  if (!opt.zip.empty() && opt.count > 65535)
    throw std::invalid_argument("--zip holds at most 65535 images (no ZIP64), --count is " + std::to_string(opt.count));
}

GenerateResult generate(const GenerateOptions& opt) {
  // All that can be checked before any work: nothing is generated only to fail at the end.
  validate_generate_options(opt);
  std::error_code ec;
  if (!opt.zip.empty() && fs::exists(fs::symlink_status(opt.zip, ec)) && !fs::is_regular_file(opt.zip, ec))
    throw std::runtime_error("cannot write the ZIP " + opt.zip.string() + ": it exists and is not a regular file");
  const fs::path gfile = generator_file(opt.checkpoint, opt.generator);
  if (!fs::exists(gfile)) throw std::runtime_error(gfile.string() + ": no such checkpoint file");
  // Mapped, not read: the weights are copied once, into the session. (A
  // checkpoint is replaced by rename, never rewritten in place, so the mapped
  // file cannot shrink under us.)
  auto mapped = std::make_unique<io::MappedSafetensors>(gfile.string());  // unmapped once imported
  const model::ModelConfig cfg = infer_generator_config(mapped->contents(), gfile.string());
  std::vector<float> file_z;
  uint64_t file_rows = 0;
  if (!opt.latents.empty()) {
    const auto lat = io::read_safetensors(opt.latents.string());
    auto it = lat.tensors.find("z");
    if (it == lat.tensors.end()) throw std::runtime_error(opt.latents.string() + ": no tensor named 'z'");
    if (it->second.shape.size() != 2 || it->second.shape[1] != cfg.nz)
      throw std::runtime_error(opt.latents.string() + ": tensor 'z' must be [N, " + std::to_string(cfg.nz) + "]");
    const auto v = io::to_f64(it->second);
    file_z.assign(v.begin(), v.end());
    file_rows = uint64_t(it->second.shape[0]);
    if (opt.count > file_rows)
      throw std::runtime_error(opt.latents.string() + ": has " + std::to_string(file_rows) + " latents, --count asks for " +
                               std::to_string(opt.count));
  }
  fs::create_directories(opt.out, ec);
  if (ec || !fs::is_directory(opt.out))
    throw std::runtime_error("cannot create the output folder " + opt.out.string() + ": " +
                             (ec ? ec.message() : std::string("it is not a folder")));
  // Temporary PNGs and ZIPs of killed runs (not of shards still running).
  io::remove_temp_files(opt.out, io::TempOwners::kDead, "image_");
  if (!opt.zip.empty())
    io::remove_temp_files(opt.zip.parent_path().empty() ? "." : opt.zip.parent_path(), io::TempOwners::kDead,
                      opt.zip.filename().string() + io::kTempMarker);
  const int B = opt.batch;
  model::GenerateGraph gg = model::build_generate_graph(cfg, B, DType::f32);
  SelectedBackend be = make_backend(opt.backend);
  auto plan = compile(gg.graph, *be.backend);
  const std::unique_ptr<Session> session = make_session(*plan, "generation (--batch " + std::to_string(B) + ")");
  Session& s = *session;
  import_network(s, mapped->contents(), gfile.string(), gg.g_params, "G.");
  mapped.reset();

  std::optional<ZipWriter> zip;
  if (!opt.zip.empty()) zip.emplace(opt.zip);
  const unsigned encoders = opt.encoders > 0 ? unsigned(opt.encoders) : std::max(1u, data::default_threads() - 1);
  const size_t per = size_t(3) * cfg.size * cfg.size;
  BatchGenerator batches(s, cfg.nz, B, opt.seed, file_z);
  // Two image buffers: the network fills one while the encoders read the other.
  std::vector<float> pixels[2] = {std::vector<float>(size_t(B) * per), std::vector<float>(size_t(B) * per)};
  Progress progress("generate", opt.count, "img");
  const auto t0 = std::chrono::steady_clock::now();
  std::future<void> pending;
  // Encodes and writes one batch's images (indices first .. first + n).
  // While the network runs the next batch, `encoders` threads (all cores but
  // one) encode; the last batch has the machine to itself, so all cores do.
  auto write_batch = [&](const float* images, uint64_t first, uint64_t n, unsigned threads) {
    std::vector<std::vector<uint8_t>> pngs(n);
    data::parallel_for(n, threads, [&](size_t j) {
      std::vector<uint8_t> rgb(per);
      quantize_image(&images[j * per], cfg.size, rgb.data());
      pngs[j] = encode_png(rgb.data(), cfg.size, cfg.size);
      io::write_file_atomic(opt.out / image_file_name(first + j), pngs[j]);
    });
    if (zip)
      for (uint64_t j = 0; j < n; ++j) zip->add(image_file_name(first + j), pngs[j]);
  };
  uint64_t done = 0;
  for (int slot = 0; done < opt.count; done += uint64_t(B), slot ^= 1) {
    if (stop_requested()) break;  // the batches before this one are written whole below
    const uint64_t n = std::min<uint64_t>(uint64_t(B), opt.count - done);
    batches.run(opt.start_index + done, done, n, pixels[slot]);
    if (pending.valid()) pending.get();  // the previous batch's files are written
    if (done + n >= opt.count) {
      write_batch(pixels[slot].data(), opt.start_index + done, n, std::max(encoders, data::default_threads()));
    } else {
      pending = std::async(std::launch::async, write_batch, pixels[slot].data(), opt.start_index + done, n, encoders);
    }
    if (!opt.quiet) progress.update(done + n);
  }
  if (pending.valid()) pending.get();
  const bool interrupted = done < opt.count;
  if (zip && !interrupted) zip->close();  // else its destructor removes the partial archive
  if (!opt.quiet) {
    if (interrupted) progress.stopped(done);
    else progress.finish();
  }
  return {std::min(done, opt.count), std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
          interrupted};
}

}  // namespace rg::app
