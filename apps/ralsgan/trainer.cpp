#include "apps/ralsgan/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "apps/data/augment.h"
#include "apps/model/ralsgan_step.h"
#include "apps/ralsgan/checkpoint.h"
#include "apps/ralsgan/image_io.h"
#include "apps/ralsgan/init.h"
#include "apps/ralsgan/progress.h"
#include "engine/rng/philox.h"
#include "engine/session.h"

namespace rg::app {

std::atomic<int> g_stop_signal{0};

namespace {

namespace fs = std::filesystem;

std::string num(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

// Options that must match to resume a run; stored in train_state's metadata.
std::map<std::string, std::string> run_metadata(const TrainOptions& o, const data::Dataset& ds, uint64_t step,
                                                uint64_t epoch) {
  return {{"step", std::to_string(step)},
          {"epoch", std::to_string(epoch)},
          {"seed", std::to_string(o.seed)},
          {"size", std::to_string(o.size)},
          {"width", num(o.width)},
          {"nz", std::to_string(o.nz)},
          {"batch", std::to_string(o.batch)},
          {"epochs", std::to_string(o.epochs)},
          {"lr_g", num(o.lr_g)},
          {"lr_d", num(o.lr_d)},
          {"real_label", num(o.real_label)},
          {"augment", o.augment ? "1" : "0"},
          {"shuffle", o.shuffle ? "1" : "0"},
          {"dataset_images", std::to_string(ds.size())},
          {"dataset_fingerprint", std::to_string(ds.fingerprint())},
          {"format", "ralsgan-train-state-1"}};
}

void check_resumable(const std::map<std::string, std::string>& saved, const std::map<std::string, std::string>& now,
                     const std::string& label) {
  for (const char* key : {"seed", "size", "width", "nz", "batch", "lr_g", "lr_d", "real_label", "augment", "shuffle",
                          "dataset_images", "dataset_fingerprint"}) {
    auto it = saved.find(key);
    if (it == saved.end()) throw std::runtime_error(label + ": metadata lacks '" + key + "'; not a ralsgan train state");
    if (it->second != now.at(key))
      throw std::runtime_error(label + ": the run was started with " + key + " = " + it->second + ", now " +
                               now.at(key) + "; resume with the same options and data");
  }
}

struct LossHistory {
  std::vector<double> step, loss_d, loss_g;
  // Reload what an earlier run logged, up to `until` (a resumed run continues the plot).
  void load(const fs::path& log, uint64_t until) {
    std::ifstream in(log);
    std::string line;
    while (std::getline(in, line)) {
      double s, d, g;
      auto field = [&](const char* k, double& v) {
        const auto p = line.find(std::string("\"") + k + "\":");
        if (p == std::string::npos) return false;
        v = std::strtod(line.c_str() + p + std::strlen(k) + 3, nullptr);
        return true;
      };
      if (field("step", s) && field("loss_d", d) && field("loss_g", g) && s <= double(until))
        step.push_back(s), loss_d.push_back(d), loss_g.push_back(g);
    }
  }
};

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / double(v.size());
}

}  // namespace

TrainResult train(const TrainOptions& opt, const data::Dataset& ds) {
  if (ds.image_size() != opt.size)
    throw std::runtime_error("the data set's images are " + std::to_string(ds.image_size()) + " px but --size is " +
                             std::to_string(opt.size));
  const uint64_t per_epoch = data::steps_per_epoch(ds.size(), size_t(opt.batch));
  if (per_epoch == 0)
    throw std::runtime_error("the data set has " + std::to_string(ds.size()) + " images, fewer than one batch of " +
                             std::to_string(opt.batch));
  const fs::path ckpt_dir = opt.out / "checkpoint", samples_dir = opt.out / "samples";
  fs::create_directories(ckpt_dir);
  fs::create_directories(samples_dir);
  fs::create_directories(opt.out / "checkpoints");

  model::StepConfig sc;
  sc.model = {opt.size, opt.width, opt.nz};
  sc.batch = opt.batch;
  sc.real_label = opt.real_label;
  sc.lr_g = opt.lr_g;
  sc.lr_d = opt.lr_d;
  const DType dtype = opt.f64 ? DType::f64 : DType::f32;
  SelectedBackend be = make_backend(opt.backend);
  sc.recompute_activations = recompute_activations_for(be);
  const model::StepGraph sg = model::build_train_step(sc, dtype);
  if (opt.f64 && be.name != "ref") throw std::runtime_error("--precision f64 needs --backend ref");
  auto plan = compile(sg.graph, *be.backend);
  Session s(*plan);

  const CheckpointPaths newest = CheckpointPaths::in(ckpt_dir);
  uint64_t step = 0;
  std::map<std::string, std::string> meta = run_metadata(opt, ds, 0, 0);
  if (opt.resume) {
    for (const fs::path& p : {newest.generator, newest.discriminator, newest.train_state})
      if (!fs::exists(p)) throw std::runtime_error("--resume: " + p.string() + " does not exist");
    const auto state = io::read_safetensors(newest.train_state);
    check_resumable(state.metadata, meta, newest.train_state.string());
    step = std::stoull(state.metadata.at("step"));
    import_network(s, io::read_safetensors(newest.generator), newest.generator.string(), sg.g_params, "G.");
    import_network(s, io::read_safetensors(newest.discriminator), newest.discriminator.string(), sg.d_params, "D.");
    import_train_state(s, state, newest.train_state.string(), sg.g_params, sg.d_params);
  } else {
    initialize_network(s, sg.g_params, "G.", opt.seed, 0);
    initialize_network(s, sg.d_params, "D.", opt.seed, 1);
    if (!opt.init_g.empty())
      import_network(s, io::read_safetensors(opt.init_g), opt.init_g.string(), sg.g_params, "G.");
    if (!opt.init_d.empty())
      import_network(s, io::read_safetensors(opt.init_d), opt.init_d.string(), sg.d_params, "D.");
  }
  const uint64_t total = uint64_t(opt.epochs) * per_epoch;
  const uint64_t end = opt.steps >= 0 ? std::min(total, step + uint64_t(opt.steps)) : total;
  TrainResult result{step, step, false};

  // Sample grids from fixed latents: the first 64 images `generate` makes with
  // this seed, in runs of 8 (a generation plan of batch 8 keeps its arena an
  // eighth of a batch-64 one; eval-mode images do not depend on the batch).
  const int grid_n = 64, grid_batch = 8;
  model::GenerateGraph gen = model::build_generate_graph(sc.model, grid_batch, dtype);
  std::unique_ptr<Plan> gen_plan;
  std::unique_ptr<Session> gen_session;
  std::vector<float> grid_z(size_t(grid_n) * opt.nz);
  for (int i = 0; i < grid_n; ++i)
    latent_vector(opt.seed, RngStream::kGeneration, uint64_t(i), std::span<float>(&grid_z[size_t(i) * opt.nz], size_t(opt.nz)));

  LossHistory history;
  const fs::path log_path = opt.out / "log.jsonl";
  if (opt.resume) history.load(log_path, step);
  else fs::remove(log_path);
  std::ofstream log(log_path, std::ios::app);
  if (!log) throw std::runtime_error("cannot write " + log_path.string());

  auto save_checkpoint = [&](const fs::path& dir, uint64_t at_step) {
    fs::create_directories(dir);
    const CheckpointPaths p = CheckpointPaths::in(dir);
    // Files are written one tensor at a time. Train state last: a checkpoint
    // is complete once its state names the step.
    write_network(p.generator, s, sg.g_params, "G.");
    write_network(p.discriminator, s, sg.d_params, "D.");
    auto meta = run_metadata(opt, ds, at_step, at_step / per_epoch);
    meta["backend"] = be.name;  // informational: resuming on another backend is allowed
    meta["math"] = be.math;
    write_train_state(p.train_state, s, sg.g_params, sg.d_params, meta);
  };
  auto save_samples = [&](uint64_t at_step) {
    if (!gen_plan) {
      gen_plan = compile(gen.graph, *be.backend);
      gen_session = std::make_unique<Session>(*gen_plan);
    }
    copy_network(s, *gen_session, sg.g_params, "G.");
    const size_t per = size_t(3) * opt.size * opt.size;
    std::vector<std::vector<uint8_t>> tiles(grid_n, std::vector<uint8_t>(per));
    for (int first = 0; first < grid_n; first += grid_batch) {
      gen_session->set_input("z", std::span<const float>(&grid_z[size_t(first) * opt.nz], size_t(grid_batch) * opt.nz));
      gen_session->run();
      const std::vector<float> img = gen_session->value_f32(gen.images);
      for (int i = 0; i < grid_batch; ++i) quantize_image(&img[size_t(i) * per], opt.size, tiles[size_t(first + i)].data());
    }
    int w, h;
    const auto grid = make_grid(tiles, opt.size, 8, w, h);
    char name[64];
    std::snprintf(name, sizeof name, "grid_step_%08llu.png", (unsigned long long)at_step);
    const auto png = encode_png(grid.data(), w, h);
    write_file_atomic(samples_dir / name, png);
    write_file_atomic(samples_dir / "latest.png", png);
    const auto plot = plot_losses(history.step, history.loss_d, history.loss_g, 640, 360);
    write_file_atomic(samples_dir / "losses.png", encode_png(plot.data(), 640, 360));
  };

  data::BatchOptions bo;
  bo.batch = size_t(opt.batch);
  bo.seed = opt.seed;
  bo.shuffle = opt.shuffle;
  bo.augment = opt.augment;
  bo.start_step = step;
  bo.end_step = end;
  data::BatchLoader loader(ds, bo);
  std::vector<float> z(size_t(opt.batch) * opt.nz);
  std::vector<double> x64(opt.f64 ? size_t(opt.batch) * 3 * opt.size * opt.size : 0);
  Progress progress("train", end, "step", step);
  auto t0 = std::chrono::steady_clock::now();
  uint64_t t0_step = step;
  for (; step < end; ++step) {
    std::optional<data::Batch> b = loader.next();
    if (!b) throw std::logic_error("data loader ended early");
    for (int j = 0; j < opt.batch; ++j)
      latent_vector(opt.seed, RngStream::kTrainingLatents, step * uint64_t(opt.batch) + uint64_t(j),
                    std::span<float>(&z[size_t(j) * opt.nz], size_t(opt.nz)));
    if (opt.f64) {
      // The loader hands out x / 127.5 - 1 rounded to float; an f64 run takes
      // the exact value of the byte x it came from.
      for (size_t i = 0; i < b->data.size(); ++i)
        x64[i] = std::nearbyint((double(b->data[i]) + 1.0) * 127.5) / 127.5 - 1.0;
      s.set_input("x_real", std::span<const double>(x64));
    } else {
      s.set_input("x_real", std::span<const float>(b->data));
    }
    s.set_input("z", std::span<const float>(z));
    s.run();
    const uint64_t done = step + 1;
    const bool epoch_end = done % per_epoch == 0;
    const bool stopping = g_stop_signal.load() != 0 || done == end;
    if (done % uint64_t(opt.log_every) == 0 || epoch_end || stopping) {
      const double ld = s.value(sg.loss_d)[0], lg = s.value(sg.loss_g)[0];
      const double cr = mean_of(s.value(sg.c_r)), cf = mean_of(s.value(sg.c_f));
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double ips = secs > 0 ? double(done - t0_step) * opt.batch / secs : 0.0;
      t0 = std::chrono::steady_clock::now();
      t0_step = done;
      log << "{\"step\":" << done << ",\"epoch\":" << num(double(done) / double(per_epoch)) << ",\"loss_d\":" << num(ld)
          << ",\"loss_g\":" << num(lg) << ",\"c_real\":" << num(cr) << ",\"c_fake\":" << num(cf)
          << ",\"images_per_s\":" << num(ips) << "}\n";
      log.flush();
      history.step.push_back(double(done)), history.loss_d.push_back(ld), history.loss_g.push_back(lg);
      if (!opt.quiet) progress.update(done, "loss_d " + num(ld) + " loss_g " + num(lg));
    }
    if (epoch_end) {
      const uint64_t epoch = done / per_epoch;
      save_checkpoint(ckpt_dir, done);
      if (opt.checkpoint_every > 0 && epoch % uint64_t(opt.checkpoint_every) == 0) {
        char name[32];
        std::snprintf(name, sizeof name, "epoch_%04llu", (unsigned long long)epoch);
        save_checkpoint(opt.out / "checkpoints" / name, done);
      }
      if (opt.sample_every > 0 && epoch % uint64_t(opt.sample_every) == 0) save_samples(done);
    }
    if (g_stop_signal.load() != 0) {
      ++step;
      result.interrupted = true;
      break;
    }
  }
  result.last_step = step;
  save_checkpoint(ckpt_dir, step);
  save_samples(step);
  if (!opt.quiet) progress.finish();
  return result;
}

}  // namespace rg::app
