// SPDX-License-Identifier: Apache-2.0
#include "apps/ralsgan/run_options.h"

#include <cstdio>
#include <stdexcept>

#include "apps/model/diffaugment.h"
#include "apps/ralsgan/checkpoint.h"
#include "apps/ralsgan/version.h"
#include "engine/io/atomic_file.h"
#include "engine/io/json.h"

namespace rg::app {

namespace fs = std::filesystem;

std::string metadata_number(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

Metadata run_metadata(const TrainOptions& o, const data::Dataset& ds, uint32_t data_crc,
                      uint64_t step, uint64_t epoch) {
  return {{"step", std::to_string(step)},
          {"epoch", std::to_string(epoch)},
          {"seed", std::to_string(o.seed)},
          {"size", std::to_string(o.size)},
          {"width", metadata_number(o.width)},
          {"nz", std::to_string(o.nz)},
          {"batch", std::to_string(o.batch)},
          {"epochs", std::to_string(o.epochs)},
          {"lr_g", metadata_number(o.lr_g)},
          {"lr_d", metadata_number(o.lr_d)},
          {"real_label", metadata_number(o.real_label)},
          {"augment", o.augment ? "1" : "0"},
          {"ema_kimg", metadata_number(o.ema_kimg)},
          {"ema_rampup", metadata_number(o.ema_kimg > 0 ? o.ema_rampup : 0.0)},
          {"diffaugment", model::parse_diffaugment(o.diffaugment).text()},
          {"shuffle", o.shuffle ? "1" : "0"},
          {"dataset_images", std::to_string(ds.size())},
          {"dataset_crc32", crc32_text(data_crc)},
          {"format", "ralsgan-train-state-2"}};
}

namespace {

// Options that are written only when they are not these values.
const Metadata& absent_means() {
  static const Metadata m = {{"ema_kimg", "0"}, {"ema_rampup", "0"}, {"diffaugment", ""}};
  return m;
}

}  // namespace

void drop_default_metadata(Metadata& m) {
  for (const auto& [key, value] : absent_means())
    if (m.at(key) == value) m.erase(key);
}

void check_resumable(const Metadata& saved, const Metadata& now, const std::string& label) {
  const Metadata& absent = absent_means();
  for (const char* key :
       {"format", "seed", "size", "width", "nz", "batch", "lr_g", "lr_d", "real_label", "augment",
        "shuffle", "dataset_images", "dataset_crc32", "ema_kimg", "ema_rampup", "diffaugment"}) {
    auto it = saved.find(key);
    if (it == saved.end() && absent.count(key)) it = absent.find(key);
    if (it == saved.end())
      throw std::runtime_error(label + ": metadata lacks '" + key + "'; not a ralsgan train state");
    if (it->second != now.at(key))
      throw std::runtime_error(label + ": the run was started with " + key + " = " + it->second +
                               ", now " + now.at(key) + "; resume with the same options and data");
  }
}

// As StyleGAN2-ADA keeps training_options.json. Rewritten by each invocation
// (a resume included).
void write_options_json(const TrainOptions& o, const SelectedBackend& be,
                        const std::string& arithmetic, const fs::path& path) {
  using io::json_text;
  io::Json j;
  const std::string version = version_text("ralsgan");
  j["version"] = json_text(version.substr(0, version.find('\n')));
  j["command"] = o.command;
  io::Json opt;
  opt["out"] = json_text(o.out.string());
  opt["size"] = o.size, opt["width"] = o.width, opt["nz"] = o.nz, opt["epochs"] = o.epochs,
  opt["batch"] = o.batch;
  opt["lr_g"] = o.lr_g, opt["lr_d"] = o.lr_d, opt["real_label"] = o.real_label,
  opt["seed"] = o.seed;
  opt["backend"] = o.backend.name, opt["threads"] = o.backend.threads,
  opt["device"] = o.backend.device;
  opt["cuda_math"] = o.backend.cuda_math, opt["cpu_math"] = o.backend.cpu_math;
  opt["resume"] = o.resume;
  opt["init_g"] = json_text(o.init_g.string()), opt["init_d"] = json_text(o.init_d.string());
  opt["steps"] = o.steps, opt["augment"] = o.augment, opt["shuffle"] = o.shuffle;
  opt["ema_kimg"] = o.ema_kimg, opt["ema_rampup"] = o.ema_rampup,
  opt["diffaugment"] = o.diffaugment;
  opt["precision"] = o.f64 ? "f64" : "f32";
  opt["log_every"] = o.log_every, opt["sample_every"] = o.sample_every,
  opt["checkpoint_every"] = o.checkpoint_every;
  opt["allow_nonfinite"] = o.allow_nonfinite, opt["allow_inexact_resume"] = o.allow_inexact_resume;
  opt["metrics_every"] = o.metrics_every, opt["metrics_count"] = o.metrics_count;
  opt["quiet"] = o.quiet;
  j["options"] = opt;
  j["backend"] = {{"name", be.name}, {"math", be.math}, {"arithmetic", arithmetic}};
  j["processor"] = json_text(describe_processor(be, o.backend));
  io::write_file_atomic(path, j.dump(2) + "\n");
}

}  // namespace rg::app
