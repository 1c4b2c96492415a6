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
#include "runtime/rg_runtime.h"
#if RALSGAN_HAVE_ONNX
#include "rg/onnx.h"
#endif

namespace rg::app {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void unsupported(const std::string& what) {
  throw std::runtime_error("export: the embedded runtime has no kernel for " + what +
                           " (it runs the DCGAN generator's ops only, docs/embedded.md)");
}

uint32_t u32(int64_t v) {
  return static_cast<uint32_t>(v);
}

// Turns the plan's values into tensor references: the latents and images
// into their own regions, variables into the weights section (packed in
// first-use order), everything else at the engine's arena offset.
class RefMaker {
 public:
  RefMaker(const Plan& plan, const Session& s, ValueId latents, ValueId images, rg_weight_type type)
      : plan_(plan),
        s_(s),
        latents_(plan.root[size_t(latents)]),
        images_(plan.root[size_t(images)]),
        type_(type) {}

  rg_tensor_ref operator()(ValueId v) {
    const Graph& g = *plan_.graph;
    const ValueId r = plan_.root[size_t(v)];
    const uint64_t bytes = g.desc(v).bytes();
    if (g.desc(v).dtype != DType::f32) unsupported("a non-f32 tensor (" + g.value_label(v) + ")");
    if (bytes != g.desc(r).bytes())
      unsupported("a view of part of a tensor (" + g.value_label(v) + ")");
    if (r == latents_) return {RG_REGION_LATENTS, 0, 0, bytes};
    if (r == images_) return {RG_REGION_IMAGES, 0, 0, bytes};
    if (g.value(r).variable >= 0) {
      const uint64_t off = weight_offset(r);
      return {RG_REGION_WEIGHTS, 0, off, type_ == RG_WEIGHTS_BF16 ? bytes / 2 : bytes};
    }
    const int64_t off = plan_.arena_offset(v);
    if (off < 0)
      throw std::logic_error("export: value " + g.value_label(v) + " has no arena buffer");
    return {RG_REGION_ARENA, 0, uint64_t(off), bytes};
  }

  const std::vector<uint8_t>& weights() const { return weights_; }

 private:
  uint64_t weight_offset(ValueId root) {
    auto it = offset_.find(root);
    if (it != offset_.end()) return it->second;
    const Graph& g = *plan_.graph;
    const uint64_t off = align_up(weights_.size(), RG_PLAN_ALIGNMENT);
    // The values the reference backend computes with: the session's f32 copy.
    std::vector<float> w(size_t(g.desc(root).numel()));
    s_.read_variable(g.variables()[size_t(g.value(root).variable)].name, w.data(), DType::f32);
    if (type_ == RG_WEIGHTS_BF16) {
      weights_.resize(off + w.size() * 2, 0);
      for (size_t i = 0; i < w.size(); ++i) {
        const uint16_t h = to_bf16(w[i]);
        std::memcpy(weights_.data() + off + 2 * i, &h, 2);
      }
    } else {
      weights_.resize(off + w.size() * sizeof(float), 0);
      std::memcpy(weights_.data() + off, w.data(), w.size() * sizeof(float));
    }
    offset_[root] = off;
    return off;
  }

  // Round to nearest even on the upper 16 bits; NaN stays a (quiet) NaN.
  static uint16_t to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);
    return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  }

  const Plan& plan_;
  const Session& s_;
  ValueId latents_, images_;
  rg_weight_type type_;
  std::vector<uint8_t> weights_;
  std::map<ValueId, uint64_t> offset_;
};

void set_conv_geometry(const Graph& g, const Node& n, rg_kernel_record& r) {
  const Shape &x = g.shape(n.inputs[0]), &w = g.shape(n.inputs[1]), &y = g.shape(n.outputs[0]);
  if (n.attrs.output_padding[0] || n.attrs.output_padding[1])
    unsupported("conv_transpose2d with output_padding");
  if (n.attrs.groups != 1 || n.attrs.dilation != std::array<int, 2>{1, 1})
    unsupported("conv_transpose2d with groups or dilation");
  r.op = RG_OP_CONV_TRANSPOSE2D;
  r.n = u32(x[0]), r.cx = u32(x[1]), r.hx = u32(x[2]), r.wx = u32(x[3]);
  r.cy = u32(y[1]), r.hy = u32(y[2]), r.wy = u32(y[3]), r.kh = u32(w[2]), r.kw = u32(w[3]);
  r.stride_h = u32(n.attrs.stride[0]), r.stride_w = u32(n.attrs.stride[1]);
  r.pad_h = u32(n.attrs.padding[0]), r.pad_w = u32(n.attrs.padding[1]);
}

// One fusion group: an anchor (transposed convolution or inference batch
// norm), then relu / tanh / per-channel add. As in the reference backend the
// anchor's result lives in the group's output (internal_homes in engine/fusion.h)
// and the chain is applied there element by element.
rg_kernel_record kernel_record(const Plan& plan, size_t k, RefMaker& ref) {
  const Graph& g = *plan.graph;
  const FusionGroup& grp = plan.groups[k];
  const Node& anchor = g.node(grp.nodes[0]);
  rg_kernel_record r{};
  if (anchor.op == OpKind::kConvTranspose2d) {
    set_conv_geometry(g, anchor, r);
    const int scratch = plan.scratch_buffer[k];
    const uint64_t col = uint64_t(r.cy) * r.kh * r.kw * r.hx * r.wx * sizeof(float);
    if (scratch < 0 || plan.buffers[size_t(scratch)].bytes < col)
      throw std::logic_error("export: no im2col scratch");
    // The reference kernel puts its columns at the end of its scratch.
    const ArenaBuffer& b = plan.buffers[size_t(scratch)];
    r.slot[RG_SLOT_SCRATCH] = {RG_REGION_ARENA, 0, b.offset + b.bytes - col, col};
    r.slot[RG_SLOT_W] = ref(anchor.inputs[1]);
  } else if (anchor.op == OpKind::kBatchNormInference) {
    const Shape& x = g.shape(anchor.inputs[0]);
    r.op = RG_OP_BATCH_NORM;
    r.n = u32(x[0]), r.cx = u32(x[1]), r.hx = u32(x[2]), r.wx = u32(x[3]);
    r.eps = anchor.attrs.eps;
    r.slot[RG_SLOT_W] = ref(anchor.inputs[1]);
    r.slot[RG_SLOT_BETA] = ref(anchor.inputs[2]);
    r.slot[RG_SLOT_MEAN] = ref(anchor.inputs[3]);
    r.slot[RG_SLOT_VAR] = ref(anchor.inputs[4]);
  } else {
    unsupported(op_name(anchor.op));
  }
  r.slot[RG_SLOT_X] = ref(anchor.inputs[0]);
  if (grp.outputs.size() != 1)
    unsupported("a fusion group with " + std::to_string(grp.outputs.size()) + " outputs");
  r.slot[RG_SLOT_Y] = ref(grp.outputs[0]);
  ValueId prev = anchor.outputs[0];
  for (size_t i = 1; i < grp.nodes.size(); ++i) {
    const Node& n = g.node(grp.nodes[i]);
    if (r.epilogue_count == RG_PLAN_MAX_EPILOGUE)
      unsupported("a chain of more than 4 elementwise ops");
    uint32_t& e = r.epilogue[r.epilogue_count++];
    if (n.inputs[0] != prev)
      unsupported(std::string(op_name(n.op)) + " not applied to the chain's value");
    if (n.op == OpKind::kRelu) {
      e = RG_EPI_RELU;
    } else if (n.op == OpKind::kTanh) {
      e = RG_EPI_TANH;
    } else if (n.op == OpKind::kAdd && g.shape(n.inputs[1]) == Shape{1, g.shape(prev)[1], 1, 1} &&
               r.slot[RG_SLOT_BIAS].region == RG_REGION_NONE) {
      e = RG_EPI_ADD_CHANNEL;
      r.slot[RG_SLOT_BIAS] = ref(n.inputs[1]);
    } else {
      unsupported(std::string("fused ") + op_name(n.op));
    }
    prev = n.outputs[0];
  }
  if (prev != grp.outputs[0])
    unsupported("a fusion group whose output is not its chain's last value");
  return r;
}

template <typename T>
void put(std::vector<uint8_t>& out, size_t at, const T& v) {
  std::memcpy(out.data() + at, &v, sizeof v);
}

}  // namespace

std::vector<uint8_t> encode_plan(const Plan& plan, const Session& session, ValueId latents,
                                 ValueId images, rg_weight_type weights) {
  const Graph& g = *plan.graph;
  if (g.float_type() != DType::f32) unsupported("an f64 plan");
  if (plan.groups.size() > RG_PLAN_MAX_KERNELS) unsupported("a plan of more than 64 kernels");
  const Shape& zs = g.shape(latents);
  const Shape& is = g.shape(images);
  if (zs.size() != 2 || is.size() != 4 || is[1] != 3 || is[2] != is[3])
    unsupported("latents or images of that shape");
  RefMaker ref(plan, session, latents, images, weights);
  std::vector<rg_kernel_record> records;
  for (size_t k = 0; k < plan.groups.size(); ++k) records.push_back(kernel_record(plan, k, ref));

  rg_plan_header h{};
  std::memcpy(h.magic, RG_PLAN_MAGIC, 8);
  h.version = RG_PLAN_VERSION;
  h.arena_bytes = plan.arena_bytes;
  h.alignment = RG_PLAN_ALIGNMENT;
  h.batch = u32(zs[0]), h.nz = u32(zs[1]), h.image_size = u32(is[2]), h.channels = 3;
  h.latents_bytes = g.desc(latents).bytes();
  h.images_bytes = g.desc(images).bytes();
  h.kernel_count = u32(int64_t(records.size()));
  h.kernel_record_bytes = sizeof(rg_kernel_record);
  h.dtype = weights;
  h.weights_offset =
      align_up(sizeof h + records.size() * sizeof(rg_kernel_record), RG_PLAN_ALIGNMENT);
  h.weights_bytes = ref.weights().size();
  h.file_bytes = h.weights_offset + h.weights_bytes;
  std::vector<uint8_t> out(h.file_bytes, 0);
  for (size_t k = 0; k < records.size(); ++k)
    put(out, sizeof h + k * sizeof(rg_kernel_record), records[k]);
  std::memcpy(out.data() + h.weights_offset, ref.weights().data(), ref.weights().size());
  put(out, 0, h);
  h.crc32 = rg_crc32(0, out.data() + 16, out.size() - 16);
  put(out, 0, h);
  return out;
}

std::string plan_c_header(const std::vector<uint8_t>& file, const std::string& source) {
  rg_plan_header h;
  std::memcpy(&h, file.data(), sizeof h);
  std::string s =
      "/* Written by `ralsgan export` from " + source +
      ": the sizes of model.rgplan's regions\n * (docs/embedded.md). Allocate them, then "
      "rg_plan_validate and rg_run. */\n#ifndef RG_MODEL_H\n#define RG_MODEL_H\n\n";
  auto def = [&](const char* name, uint64_t v, const char* what) {
    s += std::string("#define ") + name + " " + std::to_string(v) + "u /* " + what + " */\n";
  };
  def("RG_MODEL_PLAN_BYTES", h.file_bytes, "the whole plan file");
  def("RG_MODEL_ARENA_BYTES", h.arena_bytes, "caller-owned scratch for activations");
  def("RG_MODEL_WEIGHTS_BYTES", h.weights_bytes,
      "f32 weights, at RG_MODEL_WEIGHTS_OFFSET in the file");
  def("RG_MODEL_WEIGHTS_OFFSET", h.weights_offset, "bytes");
  def("RG_MODEL_LATENTS_BYTES", h.latents_bytes, "f32 [batch, nz]");
  def("RG_MODEL_IMAGES_BYTES", h.images_bytes, "f32 [batch, 3, size, size]");
  def("RG_MODEL_ALIGNMENT", h.alignment,
      "of the weights section; give every region this alignment");
  def("RG_MODEL_BATCH", h.batch, "images per rg_run");
  def("RG_MODEL_IMAGE_SIZE", h.image_size, "pixels per side");
  def("RG_MODEL_NZ", h.nz, "latent size");
  def("RG_MODEL_KERNELS", h.kernel_count, "kernel records");
  def("RG_MODEL_WEIGHT_TYPE", h.dtype, "0: f32, 1: bf16 (enum rg_weight_type)");
  char crc[16];
  std::snprintf(crc, sizeof crc, "0x%08xu", h.crc32);
  s += std::string("#define RG_MODEL_CRC32 ") + crc +
       " /* of the plan file, bytes 16 .. end */\n\n#endif\n";
  return s;
}

ExportResult export_plan(const ExportOptions& opt) {
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
  const std::vector<uint8_t> file = encode_plan(*plan, *session, gg.z, gg.images, opt.weights);

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
  const std::string header = plan_c_header(file, gfile.filename().string());
  io::write_files_atomic({{r.plan_file, std::span<const uint8_t>(file)},
                          {r.header_file, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(header.data()),
                                                                   header.size())}});
  rg_plan_header h;
  std::memcpy(&h, file.data(), sizeof h);
  r.file_bytes = h.file_bytes, r.arena_bytes = h.arena_bytes, r.weights_bytes = h.weights_bytes;
  r.kernels = int(h.kernel_count);
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
