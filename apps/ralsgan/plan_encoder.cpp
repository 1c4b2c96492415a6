// SPDX-License-Identifier: Apache-2.0
#include "apps/ralsgan/plan_encoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "backends/ref/ref_kernel.h"
#include "engine/conv_geometry.h"
#include "engine/lowered_chain.h"
#include "engine/memory_planner.h"
#include "engine/op_geometry.h"
#include "runtime/rg_runtime.h"

namespace rg::app {

namespace {

[[noreturn]] void unsupported(const std::string& what) {
  throw PlanExportError("export: the embedded runtime has no kernel for " + what +
                        " (docs/embedded.md lists its op set)");
}

uint32_t u32(int64_t v, const char* what) {
  if (v < 0 || v > int64_t(1) << 24)
    unsupported(std::string(what) + " = " + std::to_string(v) + " (the runtime takes 0 .. 2^24)");
  return static_cast<uint32_t>(v);
}

std::vector<int64_t> contiguous_strides(const Shape& s) {
  std::vector<int64_t> r(s.size(), 1);
  for (size_t d = s.size(); d-- > 1;) r[d - 1] = r[d] * s[d];
  return r;
}

// The rows (conv2d: columns) of im2col a convolution computes per pass
// (rg_kernels.c): about scratch_bytes of scratch, whole register tiles
// (16 columns, 4 rows) where the matrix allows.
int64_t conv_slab(const ConvGeometry& geo, bool forward, size_t scratch_bytes) {
  const int64_t rows = geo.col_rows(), cols = geo.col_cols();
  const int64_t across = forward ? rows : cols, along = forward ? cols : rows;
  const int64_t tile = forward ? 16 : 4;
  int64_t slab = std::max<int64_t>(1, int64_t(scratch_bytes / sizeof(float)) / across);
  return std::min(along, std::max(std::min(tile, along), slab / tile * tile));
}

// Scratch floats of a slab.
int64_t conv_scratch(const ConvGeometry& geo, bool forward, size_t scratch_bytes) {
  return conv_slab(geo, forward, scratch_bytes) * (forward ? geo.col_rows() : geo.col_cols());
}

// Per group: its kernel scratch as RefKernel lays it out (internal values
// not kept in a chain output, then the im2col slab, then computed weights in
// panels), with each piece's offset in it, and its accumulators. Laid out
// once, here: the arena sizes the scratch from it, the Locator places by it.
struct GroupNeeds {
  size_t scratch = 0, acc = 0, col_elements = 0;
  size_t packed_elements = 0;  // computed convolution weights, packed into panels here
  std::map<ValueId, size_t> internal_offset;  // internal values kept in scratch
  size_t col_offset = 0, packed_offset = 0;
};

// The runtime's own memory plan: the engine's buffers (same live ranges and
// in-place merges), but each group's scratch sized for the runtime's kernels
// (im2col in slabs, not whole), the reductions' double accumulators, and a
// place for inputs nothing reads; packed again by the engine's planner.
struct RuntimeArena {
  std::vector<int64_t> buffer;   // per plan.buffers: offset, or -1
  std::vector<int64_t> scratch;  // per group: offset of its scratch, or -1
  std::vector<int64_t> acc;      // per group: offset of its accumulators, or -1
  std::map<ValueId, int64_t> unused_input;
  uint64_t bytes = 0;
  std::vector<GroupNeeds> needs;  // per group: what its kernels need (group_needs)
};


// A convolution's weights in panels: floats per group, and in all.
int64_t panel_floats(const ConvGeometry& geo, bool forward) {
  const int64_t M = forward ? geo.group_out() : geo.col_rows(), K = forward ? geo.col_rows() : geo.group_out();
  const int64_t P = int64_t(RG_PLAN_PANEL);
  return (M + P - 1) / P * P * K * geo.groups;
}

// A constant of the model: a variable, read into the weights section.
bool is_constant(const Plan& plan, ValueId v) {
  return plan.graph->value(plan.root[size_t(v)]).variable >= 0;
}

GroupNeeds group_needs(const Plan& plan, const FusionGroup& grp, const EncodeOptions& opt) {
  const Graph& g = *plan.graph;
  GroupNeeds n;
  ScratchLayout layout;
  for (const InternalHome& h : internal_homes(g, grp))
    if (h.chain_output == kNoValue) n.internal_offset[h.value] = layout.take(g.desc(h.value).bytes());
  for (NodeId id : grp.nodes) {
    const Node& node = g.node(id);
    if (node.op == OpKind::kConv2d || node.op == OpKind::kConvTranspose2d) {
      const bool fwd = node.op == OpKind::kConv2d;
      n.col_elements = std::max(n.col_elements, size_t(conv_scratch(conv_geometry(g, node), fwd, opt.scratch_bytes)));
      if (!is_constant(plan, node.inputs[1]))
        n.packed_elements = std::max(n.packed_elements, size_t(panel_floats(conv_geometry(g, node), fwd)));
    }
    if ((node.op == OpKind::kMean || node.op == OpKind::kSumTo) && g.desc(node.outputs[0]).numel() > 1)
      n.acc = std::max(n.acc, size_t(g.desc(node.outputs[0]).numel()) * sizeof(double));
  }
  if (n.col_elements) n.col_offset = layout.take(n.col_elements * sizeof(float));
  if (n.packed_elements) n.packed_offset = layout.take(n.packed_elements * sizeof(float));
  n.scratch = layout.bytes();
  return n;
}

RuntimeArena plan_runtime_arena(const Plan& plan, const std::vector<PlanIo>& io, const EncodeOptions& opt) {
  const Graph& g = *plan.graph;
  const int steps = int(plan.groups.size());
  RuntimeArena a;
  std::vector<GroupNeeds>& needs = a.needs;
  for (const FusionGroup& grp : plan.groups) needs.push_back(group_needs(plan, grp, opt));
  // Batch norm runs in place in the runtime (each element read, then written
  // at its own index): its output takes its input's buffer when that input
  // is read by nothing later and is no input or output of the model.
  std::vector<int> host(plan.buffers.size());
  std::vector<int> last(plan.buffers.size());
  for (size_t b = 0; b < plan.buffers.size(); ++b) host[b] = int(b), last[b] = plan.buffers[b].last;
  auto is_io = [&](int b) {
    for (const PlanIo& e : io)
      if (plan.buffer_of_root[size_t(plan.root[size_t(e.value)])] == b) return true;
    return false;
  };
  for (int k = 0; k < steps; ++k) {
    const FusionGroup& grp = plan.groups[size_t(k)];
    const Node& anchor = g.node(grp.nodes[0]);
    if (anchor.op != OpKind::kBatchNormInference || grp.outputs.size() != 1) continue;
    const int in = plan.buffer_of_root[size_t(plan.root[size_t(anchor.inputs[0])])];
    const int out = plan.buffer_of_root[size_t(plan.root[size_t(grp.outputs[0])])];
    if (in < 0 || out < 0 || in == out || host[size_t(in)] != in || plan.buffers[size_t(in)].last != k ||
        plan.buffers[size_t(in)].bytes != plan.buffers[size_t(out)].bytes || is_io(in) || is_io(out))
      continue;
    host[size_t(out)] = in;
    last[size_t(in)] = std::max(last[size_t(in)], plan.buffers[size_t(out)].last);
  }
  std::vector<BufferRequest> req;
  std::vector<std::pair<int, int64_t>> who;  // (kind 0 buffer / 1 scratch / 2 acc / 3 input, index)
  for (size_t b = 0; b < plan.buffers.size(); ++b) {
    const ArenaBuffer& buf = plan.buffers[b];
    if (buf.group >= 0) {
      if (needs[size_t(buf.group)].scratch == 0) continue;
      req.push_back({needs[size_t(buf.group)].scratch, buf.first, buf.last});
      who.push_back({1, buf.group});
    } else if (!buf.values.empty() && host[b] == int(b)) {
      req.push_back({buf.bytes, buf.first, last[b]});
      who.push_back({0, int64_t(b)});
    }
  }
  for (int k = 0; k < steps; ++k)
    if (needs[size_t(k)].acc) req.push_back({needs[size_t(k)].acc, k, k}), who.push_back({2, k});
  for (size_t i = 0; i < io.size(); ++i)
    if (io[i].input && g.value(plan.root[size_t(io[i].value)]).variable < 0 && plan.arena_offset(io[i].value) < 0)
      req.push_back({g.desc(io[i].value).bytes(), 0, steps}), who.push_back({3, int64_t(i)});
  const MemoryPlan mp = plan_memory(req);
  a.buffer.assign(plan.buffers.size(), -1);
  a.scratch.assign(size_t(steps), -1);
  a.acc.assign(size_t(steps), -1);
  for (size_t i = 0; i < req.size(); ++i) {
    const auto [kind, index] = who[i];
    const int64_t off = int64_t(mp.offsets[i]);
    if (kind == 0) a.buffer[size_t(index)] = off;
    if (kind == 1) a.scratch[size_t(index)] = off;
    if (kind == 2) a.acc[size_t(index)] = off;
    if (kind == 3) a.unused_input[io[size_t(index)].value] = off;
  }
  for (size_t b = 0; b < plan.buffers.size(); ++b)
    if (host[b] != int(b)) a.buffer[b] = a.buffer[size_t(host[b])];
  a.bytes = mp.arena_bytes;
  return a;
}

// Where every value a kernel touches lives: the weights section (variables,
// packed in first-use order), the engine's arena offset, or, for a group's
// internal values, where the reference kernel puts them (its chain output or
// its scratch, internal_homes, with the im2col columns after them).
class Locator {
 public:
  Locator(const Plan& plan, const Session& s, rg_weight_type type, const RuntimeArena& arena)
      : plan_(plan), s_(s), type_(type), arena_(arena) {}

  // Group k's internal homes and columns, as RefKernel's constructor lays
  // them out (group_needs).
  void enter_group(size_t k) {
    const Graph& g = *plan_.graph;
    const GroupNeeds& n = arena_.needs[k];
    home_.clear();
    scratch_base_ = arena_.scratch[k];
    acc_base_ = arena_.acc[k];
    const auto in_scratch = [&](size_t off, size_t bytes) {
      return rg_tensor_ref{RG_REGION_ARENA, 0, uint64_t(scratch() + int64_t(off)), bytes};
    };
    for (const InternalHome& h : internal_homes(g, plan_.groups[k]))
      home_[h.value] = h.chain_output != kNoValue ? (*this)(h.chain_output)
                                                  : in_scratch(n.internal_offset.at(h.value), g.desc(h.value).bytes());
    col_ = n.col_elements ? in_scratch(n.col_offset, n.col_elements * sizeof(float)) : rg_tensor_ref{};
    packed_place_ = n.packed_elements ? in_scratch(n.packed_offset, n.packed_elements * sizeof(float)) : rg_tensor_ref{};
  }

  // The group's place for computed convolution weights in panels.
  rg_tensor_ref packed(uint64_t elements) const {
    rg_tensor_ref r = packed_place_;
    r.bytes = elements * sizeof(float);
    return r;
  }

  // The group's reduction accumulators (doubles).
  rg_tensor_ref accumulators(uint64_t count) const {
    if (acc_base_ < 0) throw std::logic_error("export: a reduction without accumulators");
    return {RG_REGION_ARENA, 0, uint64_t(acc_base_), count * sizeof(double)};
  }

  rg_tensor_ref columns(uint64_t elements) const {
    rg_tensor_ref r = col_;
    r.bytes = elements * sizeof(float);
    return r;
  }

  rg_tensor_ref operator()(ValueId v) {
    const Graph& g = *plan_.graph;
    if (auto it = home_.find(v); it != home_.end()) return it->second;
    const ValueId r = plan_.root[size_t(v)];
    const uint64_t bytes = g.desc(v).bytes();
    if (g.desc(v).dtype != DType::f32) unsupported("a non-f32 tensor (" + g.value_label(v) + ")");
    if (bytes != g.desc(r).bytes()) unsupported("a view of part of a tensor (" + g.value_label(v) + ")");
    if (g.value(r).variable >= 0) {
      const uint64_t off = weight_offset(r);
      return {RG_REGION_WEIGHTS, 0, off, type_ == RG_WEIGHTS_BF16 ? bytes / 2 : bytes};  // int8 plans: f32
    }
    const int b = plan_.buffer_of_root[size_t(r)];
    int64_t off = b >= 0 ? arena_.buffer[size_t(b)] : -1;
    if (auto it = arena_.unused_input.find(v); it != arena_.unused_input.end()) off = it->second;
    if (off < 0) throw std::logic_error("export: value " + g.value_label(v) + " has no arena buffer");
    return {RG_REGION_ARENA, 0, uint64_t(off), bytes};
  }

  // A convolution's weights as the runtime's matrix product reads them
  // (rg_plan_format.h RG_PLAN_PANEL): per group, A [M, K] in panels of
  // RG_PLAN_PANEL rows, k-major, rows past M zero. conv2d: A = W_g; the
  // transposed convolution: A = W_g^T.
  // In int8 plans: the weights quantised per output channel (conv2d: c_out;
  // the transposed convolution: its output channels, conv2d's c_in):
  // scale = max |w| / 127, q = round(w / scale) (0 .. +-127), with `scales`
  // the f32 scales' place.
  // `multiplier`: per output channel, folded batch norm's scale (empty: none).
  rg_tensor_ref conv_weights(ValueId w, const ConvGeometry& geo, bool forward, rg_tensor_ref* scales,
                             const std::vector<double>& multiplier = {}) {
    const Graph& g = *plan_.graph;
    const ValueId root = plan_.root[size_t(w)];
    if (!is_constant(w))
      unsupported("a convolution whose weights are computed (" + g.value_label(w) + "), not constant");
    // Folded weights are a tensor of their own: the key tells them apart.
    const auto key = std::make_pair(root, forward ? (multiplier.empty() ? 1 : 3) : (multiplier.empty() ? 0 : 2));
    const int64_t rows = geo.col_rows(), gout = geo.group_out();
    const int64_t M = forward ? gout : rows, K = forward ? rows : gout, P = int64_t(RG_PLAN_PANEL);
    const int64_t per_group = panel_floats(geo, forward) / geo.groups;
    const uint64_t count = uint64_t(panel_floats(geo, forward));
    const int64_t taps = geo.kh * geo.kw;
    // Output channel of A's row m in group grp, and how many there are.
    auto channel = [&](int64_t grp, int64_t m) { return forward ? grp * gout + m : grp * geo.group_in() + m / taps; };
    const int64_t channels = forward ? geo.c_out : geo.c_in;
    if (auto it = packed_.find(key); it == packed_.end()) {
      const std::vector<float> v = values(w);
      auto at = [&](int64_t grp, int64_t m, int64_t k) {
        const float x = v[size_t(grp * gout * rows + (forward ? m * rows + k : k * rows + m))];
        return multiplier.empty() ? x : float(double(x) * multiplier[size_t(channel(grp, m))]);
      };
      std::vector<float> a(count, 0.0f);
      std::vector<float> scale(size_t(channels), 0.0f);
      if (type_ == RG_WEIGHTS_INT8) {
        for (int64_t grp = 0; grp < geo.groups; ++grp)
          for (int64_t m = 0; m < M; ++m)
            for (int64_t k = 0; k < K; ++k) {
              float& s = scale[size_t(channel(grp, m))];
              s = std::max(s, std::abs(at(grp, m, k)));
            }
        for (float& s : scale) s = s > 0 ? s / 127.0f : 1.0f;
      }
      for (int64_t grp = 0; grp < geo.groups; ++grp)
        for (int64_t m = 0; m < M; ++m)
          for (int64_t k = 0; k < K; ++k) {
            const float x = at(grp, m, k);
            a[size_t(grp * per_group + m / P * K * P + k * P + m % P)] =
                type_ == RG_WEIGHTS_INT8
                    ? std::clamp(std::nearbyint(x / scale[size_t(channel(grp, m))]), -127.0f, 127.0f)
                    : x;
          }
      packed_[key] = append(a, type_ == RG_WEIGHTS_INT8);
      if (type_ == RG_WEIGHTS_INT8) scale_of_[key] = append(scale, false);
    }
    if (type_ == RG_WEIGHTS_INT8) {
      *scales = {RG_REGION_WEIGHTS, 0, scale_of_[key], uint64_t(channels) * 4};
      return {RG_REGION_WEIGHTS, 0, packed_[key], count};
    }
    return {RG_REGION_WEIGHTS, 0, packed_[key], count * (type_ == RG_WEIGHTS_BF16 ? 2 : 4)};
  }

  bool is_constant(ValueId v) const { return app::is_constant(plan_, v); }

  // A constant's values (a variable's, from the session).
  std::vector<float> values(ValueId v) const {
    const Graph& g = *plan_.graph;
    const ValueId root = plan_.root[size_t(v)];
    std::vector<float> x(size_t(g.desc(root).numel()));
    s_.read_variable(g.variables()[size_t(g.value(root).variable)].name, x.data(), DType::f32);
    return x;
  }

  // Weights of the plan's type (bf16 plans: bf16) appended; their reference.
  rg_tensor_ref weights_of(const std::vector<float>& w) {
    const uint64_t off = append(w);
    return {RG_REGION_WEIGHTS, 0, off, w.size() * (type_ == RG_WEIGHTS_BF16 ? 2 : 4)};
  }

  // A kernel's table (gather maps, bilinear taps) in the weights section, 64-aligned.
  rg_tensor_ref table(const void* data, size_t bytes) {
    const uint64_t off = align_up(weights_.size(), RG_PLAN_ALIGNMENT);
    weights_.resize(off + bytes, 0);
    std::memcpy(weights_.data() + off, data, bytes);
    return {RG_REGION_WEIGHTS, 0, off, bytes};
  }

  // The weights section, its length a multiple of 4 (int8 weights may end it).
  std::vector<uint8_t> section() const {
    std::vector<uint8_t> w = weights_;
    w.resize(align_up(w.size(), 4), 0);
    return w;
  }

 private:
  // Appends values to the weights section (aligned), in the plan's type
  // (int8 plans: f32, or int8 for quantised convolution weights).
  uint64_t append(const std::vector<float>& w, bool int8 = false) {
    const uint64_t off = align_up(weights_.size(), RG_PLAN_ALIGNMENT);
    if (int8) {
      weights_.resize(off + w.size(), 0);
      for (size_t i = 0; i < w.size(); ++i) weights_[off + i] = uint8_t(int8_t(w[i]));
    } else if (type_ == RG_WEIGHTS_BF16) {
      weights_.resize(off + w.size() * 2, 0);
      for (size_t i = 0; i < w.size(); ++i) {
        const uint16_t h = to_bf16(w[i]);
        std::memcpy(weights_.data() + off + 2 * i, &h, 2);
      }
    } else {
      weights_.resize(off + w.size() * sizeof(float), 0);
      std::memcpy(weights_.data() + off, w.data(), w.size() * sizeof(float));
    }
    return off;
  }

  int64_t scratch() const {
    if (scratch_base_ < 0) throw std::logic_error("export: a group's kernel has no scratch buffer");
    return scratch_base_;
  }

  uint64_t weight_offset(ValueId root) {
    if (auto it = offset_.find(root); it != offset_.end()) return it->second;
    return offset_[root] = append(values(root));
  }

  const Plan& plan_;
  const Session& s_;
  rg_weight_type type_;
  const RuntimeArena& arena_;
  int64_t acc_base_ = -1;
  std::vector<uint8_t> weights_;
  std::map<ValueId, uint64_t> offset_;
  std::map<std::pair<ValueId, int>, uint64_t> packed_;  // (weights, direction and folding) -> offset
  std::map<std::pair<ValueId, int>, uint64_t> scale_of_;  // int8: their scales' offset
  std::map<ValueId, rg_tensor_ref> home_;
  int64_t scratch_base_ = -1;
  rg_tensor_ref col_{}, packed_place_{};
};

// `elements` f32 values of an arena tensor r, from element `first`.
rg_tensor_ref part(rg_tensor_ref r, uint64_t first, uint64_t elements) {
  r.offset += first * sizeof(float);
  r.bytes = elements * sizeof(float);
  return r;
}

void set_conv(rg_kernel_record& r, const ConvGeometry& geo) {
  uint32_t* p = r.p;
  p[RG_P_CONV_N] = u32(geo.n, "batch"), p[RG_P_CONV_CIN] = u32(geo.c_in, "channels");
  p[RG_P_CONV_H] = u32(geo.h, "height"), p[RG_P_CONV_W] = u32(geo.w, "width");
  p[RG_P_CONV_COUT] = u32(geo.c_out, "channels"), p[RG_P_CONV_HO] = u32(geo.ho, "height");
  p[RG_P_CONV_WO] = u32(geo.wo, "width"), p[RG_P_CONV_KH] = u32(geo.kh, "kernel");
  p[RG_P_CONV_KW] = u32(geo.kw, "kernel"), p[RG_P_CONV_GROUPS] = u32(geo.groups, "groups");
  p[RG_P_CONV_SH] = u32(geo.sh, "stride"), p[RG_P_CONV_SW] = u32(geo.sw, "stride");
  p[RG_P_CONV_PH] = u32(geo.ph, "padding"), p[RG_P_CONV_PW] = u32(geo.pw, "padding");
  p[RG_P_CONV_DH] = u32(geo.dh, "dilation"), p[RG_P_CONV_DW] = u32(geo.dw, "dilation");
}

void set_shape(uint32_t* dims, const Shape& s) {
  for (size_t d = 0; d < s.size(); ++d) dims[d] = u32(s[d], "a dimension");
}

void set_strides(uint32_t* out, const std::vector<int64_t>& s) {
  for (size_t d = 0; d < s.size(); ++d) out[d] = u32(s[d], "a stride");
}

// A rank-0 shape is one element: rank 1, dims {1}.
Shape at_least_1d(const Shape& s) {
  return s.empty() ? Shape{1} : s;
}

rg_kernel_record copy_record(const Shape& dims, const std::vector<int64_t>& src,
                             const std::vector<int64_t>& dst, rg_tensor_ref x, rg_tensor_ref y) {
  if (dims.size() > RG_PLAN_MAX_RANK) unsupported("a copy of rank above 8");
  rg_kernel_record r{};
  r.op = RG_OP_COPY;
  r.p[RG_P_COPY_RANK] = uint32_t(dims.size());
  set_shape(r.p + RG_P_COPY_DIMS, dims);
  set_strides(r.p + RG_P_COPY_SRC, src);
  set_strides(r.p + RG_P_COPY_DST, dst);
  r.slot[RG_SLOT_X] = x;
  r.slot[RG_SLOT_Y] = y;
  return r;
}

// Batch norms folded into the convolution before them (EncodeOptions::
// fold_batch_norm): the convolution's weights times the channel's scale,
// the batch norm an add of the shift.
struct Folds {
  std::map<NodeId, std::vector<double>> conv_scale;  // convolution -> per output channel
  std::map<NodeId, std::vector<float>> bn_shift;     // batch norm -> per channel
};

Folds find_folds(const Plan& plan, const Locator& loc) {
  const Graph& g = *plan.graph;
  Folds f;
  std::vector<int> readers(size_t(g.num_values()), 0);
  for (NodeId id = 0; id < g.num_nodes(); ++id)
    for (ValueId v : g.node(id).inputs) ++readers[size_t(plan.root[size_t(v)])];
  for (ValueId v : g.outputs()) ++readers[size_t(plan.root[size_t(v)])];
  std::map<NodeId, size_t> group_size;
  for (const FusionGroup& grp : plan.groups)
    for (NodeId id : grp.nodes) group_size[id] = grp.nodes.size();
  for (const FusionGroup& grp : plan.groups) {
    const NodeId bn_id = grp.nodes[0];
    const Node& bn = g.node(bn_id);
    if (bn.op != OpKind::kBatchNormInference) continue;
    const ValueId x = plan.root[size_t(bn.inputs[0])];
    const NodeId conv_id = g.value(x).producer;
    if (conv_id < 0) continue;
    const Node& conv = g.node(conv_id);
    if ((conv.op != OpKind::kConv2d && conv.op != OpKind::kConvTranspose2d) || group_size[conv_id] != 1 ||
        readers[size_t(x)] != 1 || !loc.is_constant(conv.inputs[1]))
      continue;
    bool constants = true;
    for (size_t i = 1; i < 5; ++i) constants = constants && loc.is_constant(bn.inputs[i]);
    if (!constants) continue;
    const std::vector<float> gamma = loc.values(bn.inputs[1]), beta = loc.values(bn.inputs[2]),
                             mean = loc.values(bn.inputs[3]), var = loc.values(bn.inputs[4]);
    std::vector<double> scale(gamma.size());
    std::vector<float> shift(gamma.size());
    for (size_t c = 0; c < gamma.size(); ++c) {
      scale[c] = double(gamma[c]) / std::sqrt(double(var[c]) + bn.attrs.eps);
      shift[c] = float(double(beta[c]) - double(mean[c]) * scale[c]);
    }
    f.conv_scale[conv_id] = scale;
    f.bn_shift[bn_id] = shift;
  }
  return f;
}

// The records of one non-elementwise node of a group, as its RefOp lowers it.
void node_records(const Graph& g, NodeId id, Locator& loc, const EncodeOptions& opt, const Folds& folds,
                  std::vector<rg_kernel_record>& out, std::vector<rg_chain_record>& chains) {
  const Node& n = g.node(id);
  rg_kernel_record r{};
  switch (n.op) {
    case OpKind::kConv2d:
    case OpKind::kConvTranspose2d: {
      const ConvGeometry geo = conv_geometry(g, n);
      r.op = n.op == OpKind::kConv2d ? RG_OP_CONV2D : RG_OP_CONV_TRANSPOSE2D;
      set_conv(r, geo);
      const bool fwd = n.op == OpKind::kConv2d;
      r.slot[RG_SLOT_X] = loc(n.inputs[0]);
      if (loc.is_constant(n.inputs[1])) {
        const auto fold = folds.conv_scale.find(id);
        r.slot[RG_SLOT_W] = loc.conv_weights(n.inputs[1], geo, fwd, &r.slot[RG_SLOT_AUX],
                                             fold == folds.conv_scale.end() ? std::vector<double>{} : fold->second);
      } else {
        // Weights computed by the model (or fed): packed into panels in the
        // arena first, a fill of the padding then strided copies (f32 always).
        const rg_tensor_ref w = loc(n.inputs[1]), packed = loc.packed(uint64_t(panel_floats(geo, fwd)));
        rg_kernel_record f{};
        f.op = RG_OP_FILL;
        f.p[RG_P_FILL_COUNT_ELEMENTS] = u32(panel_floats(geo, fwd), "elements");
        f.slot[RG_SLOT_Y] = packed;
        out.push_back(f);
        const int64_t rows = geo.col_rows(), gout = geo.group_out(), P = int64_t(RG_PLAN_PANEL);
        const int64_t M = fwd ? gout : rows, K = fwd ? rows : gout, per_group = panel_floats(geo, fwd) / geo.groups;
        const int64_t sm = fwd ? rows : 1, sk = fwd ? 1 : rows;  // source strides of A's rows and terms
        const int64_t full = M / P;
        if (full)  // whole panels: [groups, panel, row in panel, term]
          out.push_back(copy_record({geo.groups, full, P, K}, {gout * rows, P * sm, sm, sk}, {per_group, K * P, 1, P},
                                    part(w, 0, uint64_t((geo.groups - 1) * gout * rows + (full * P - 1) * sm + (K - 1) * sk + 1)),
                                    part(packed, 0, uint64_t((geo.groups - 1) * per_group + (full - 1) * K * P + (P - 1) + (K - 1) * P + 1))));
        if (M % P)  // the last panel's rows
          out.push_back(copy_record({geo.groups, M % P, K}, {gout * rows, sm, sk}, {per_group, 1, P},
                                    part(w, uint64_t(full * P * sm), uint64_t((geo.groups - 1) * gout * rows + (M % P - 1) * sm + (K - 1) * sk + 1)),
                                    part(packed, uint64_t(full * K * P), uint64_t((geo.groups - 1) * per_group + (M % P - 1) + (K - 1) * P + 1))));
        r.slot[RG_SLOT_W] = packed;
      }
      r.slot[RG_SLOT_Y] = loc(n.outputs[0]);
      r.p[RG_P_CONV_SLAB] = u32(conv_slab(geo, fwd, opt.scratch_bytes), "slab");
      r.slot[RG_SLOT_SCRATCH] = loc.columns(uint64_t(conv_scratch(geo, fwd, opt.scratch_bytes)));
      break;
    }
    case OpKind::kBatchNormInference: {
      const Shape& s = g.shape(n.inputs[0]);
      if (s.size() != 4) unsupported("batch norm of a rank-" + std::to_string(s.size()) + " tensor");
      if (const auto fold = folds.bn_shift.find(id); fold != folds.bn_shift.end()) {
        // Folded: the convolution already scaled; y = x + shift[c].
        rg_chain_record c{};
        c.rank = 4;
        set_shape(c.dims, s);
        c.n_loads = 2, c.n_stores = 1, c.n_code = 1, c.n_regs = 3;
        c.loads[0].reg = 0, c.loads[0].full = 1, c.loads[0].t = loc(n.inputs[0]);
        c.loads[1].reg = 1, c.loads[1].strides[1] = 1, c.loads[1].t = loc.weights_of(fold->second);
        c.code[0] = {RG_CHAIN_ADD, 0, 1, RG_CHAIN_NO_REG, 2, {0, 0, 0}};
        c.stores[0].reg = 2, c.stores[0].t = loc(n.outputs[0]);
        r.op = RG_OP_CHAIN;
        r.p[RG_P_CHAIN_INDEX] = uint32_t(chains.size());
        chains.push_back(c);
        break;
      }
      r.op = RG_OP_BATCH_NORM;
      set_shape(r.p, s);
      r.f = n.attrs.eps;
      r.slot[RG_SLOT_X] = loc(n.inputs[0]);
      r.slot[RG_SLOT_W] = loc(n.inputs[1]);
      r.slot[RG_SLOT_BETA] = loc(n.inputs[2]);
      r.slot[RG_SLOT_MEAN] = loc(n.inputs[3]);
      r.slot[RG_SLOT_VAR] = loc(n.inputs[4]);
      r.slot[RG_SLOT_Y] = loc(n.outputs[0]);
      break;
    }
    case OpKind::kMaxPool2d:
    case OpKind::kAvgPool2d: {
      const PoolGeometry geo = pool_geometry(g, n);
      r.op = RG_OP_POOL;
      uint32_t* p = r.p;
      p[RG_P_POOL_PLANES] = u32(geo.planes, "planes"), p[RG_P_POOL_H] = u32(geo.h, "height");
      p[RG_P_POOL_W] = u32(geo.w, "width"), p[RG_P_POOL_HO] = u32(geo.ho, "height");
      p[RG_P_POOL_WO] = u32(geo.wo, "width"), p[RG_P_POOL_KH] = u32(geo.kh, "kernel");
      p[RG_P_POOL_KW] = u32(geo.kw, "kernel"), p[RG_P_POOL_SH] = u32(geo.sh, "stride");
      p[RG_P_POOL_SW] = u32(geo.sw, "stride"), p[RG_P_POOL_PH] = u32(geo.ph, "padding");
      p[RG_P_POOL_PW] = u32(geo.pw, "padding"), p[RG_P_POOL_PH_END] = u32(geo.ph_end, "padding");
      p[RG_P_POOL_PW_END] = u32(geo.pw_end, "padding"), p[RG_P_POOL_DH] = u32(geo.dh, "dilation");
      p[RG_P_POOL_DW] = u32(geo.dw, "dilation"), p[RG_P_POOL_MAX] = geo.max;
      p[RG_P_POOL_COUNT_INCLUDE_PAD] = geo.count_include_pad;
      r.slot[RG_SLOT_X] = loc(n.inputs[0]);
      r.slot[RG_SLOT_Y] = loc(n.outputs[0]);
      break;
    }
    case OpKind::kMatMul: {
      const MatMulGeometry geo = matmul_geometry(g, n);
      r.op = RG_OP_MATMUL;
      uint32_t* p = r.p;
      p[RG_P_MM_BATCH] = u32(geo.batch, "batch"), p[RG_P_MM_M] = u32(geo.m, "rows");
      p[RG_P_MM_K] = u32(geo.k, "inner size"), p[RG_P_MM_N] = u32(geo.n, "columns");
      p[RG_P_MM_TA] = geo.ta, p[RG_P_MM_TB] = geo.tb;
      // Each operand: one matrix for all (stride 0) or one per batch entry.
      auto stride = [&](const std::vector<int64_t>& off, int64_t size) -> uint32_t {
        const int64_t s = off.size() > 1 ? off[1] - off[0] : 0;
        for (size_t t = 0; t < off.size(); ++t)
          if (off[t] != int64_t(t) * s || (s != 0 && s != size))
            unsupported("a matmul whose batch axes broadcast partly");
        return uint32_t(s);
      };
      p[RG_P_MM_A_STRIDE] = stride(geo.a_off, geo.m * geo.k);
      p[RG_P_MM_B_STRIDE] = stride(geo.b_off, geo.k * geo.n);
      r.slot[RG_SLOT_X] = loc(n.inputs[0]);
      r.slot[RG_SLOT_W] = loc(n.inputs[1]);
      r.slot[RG_SLOT_Y] = loc(n.outputs[0]);
      break;
    }
    case OpKind::kMean:
    case OpKind::kSumTo: {
      const Shape xs = at_least_1d(g.shape(n.inputs[0]));
      if (xs.size() > RG_PLAN_MAX_RANK) unsupported("a reduction of rank above 8");
      const int64_t outn = g.desc(n.outputs[0]).numel();
      r.op = RG_OP_REDUCE;
      r.p[RG_P_RED_MEAN] = n.op == OpKind::kMean;
      r.p[RG_P_RED_RANK] = uint32_t(xs.size());
      r.p[RG_P_RED_IN] = u32(numel(xs), "elements");
      r.p[RG_P_RED_OUT] = u32(outn, "elements");
      set_shape(r.p + RG_P_RED_DIMS, xs);
      // As lower_reduce: x's linear index walks into the keepdims shape.
      const Shape& x0 = g.shape(n.inputs[0]);
      std::vector<int64_t> strides = broadcast_strides(x0, reduced_keepdims_shape(n, x0));
      if (x0.empty()) strides = {0};
      set_strides(r.p + RG_P_RED_STRIDES, strides);
      r.slot[RG_SLOT_X] = loc(n.inputs[0]);
      r.slot[RG_SLOT_Y] = loc(n.outputs[0]);
      if (outn > 1) r.slot[RG_SLOT_SCRATCH] = loc.accumulators(uint64_t(outn));  // doubles
      break;
    }
    case OpKind::kSoftmax:
    case OpKind::kLogSoftmax: {
      const RowGeometry geo = row_geometry(g, n);
      r.op = RG_OP_SOFTMAX;
      r.p[RG_P_SM_ROWS] = u32(geo.rows, "rows"), r.p[RG_P_SM_LENGTH] = u32(geo.length, "length");
      r.p[RG_P_SM_INNER] = u32(geo.inner, "inner size"), r.p[RG_P_SM_SOFTMAX] = geo.softmax;
      r.slot[RG_SLOT_X] = loc(n.inputs[0]);
      r.slot[RG_SLOT_Y] = loc(n.outputs[0]);
      break;
    }
    case OpKind::kConcat: {
      // Each input copied into its slice of every outer row, in input order.
      const ConcatGeometry geo = concat_geometry(g, n);
      const int64_t row = geo.total() * geo.inner;
      const rg_tensor_ref y = loc(n.outputs[0]);
      int64_t at = 0;
      for (size_t i = 0; i < n.inputs.size(); ++i) {
        const int64_t chunk = geo.sizes[i] * geo.inner;
        if (chunk == 0) continue;
        out.push_back(copy_record({geo.outer, chunk}, {chunk, 1}, {row, 1}, loc(n.inputs[i]),
                                  part(y, uint64_t(at), uint64_t((geo.outer - 1) * row + chunk))));
        at += chunk;
      }
      return;
    }
    case OpKind::kTranspose: {
      const Shape ys = at_least_1d(g.shape(n.outputs[0]));
      out.push_back(copy_record(ys, transpose_strides(g, n), contiguous_strides(ys), loc(n.inputs[0]),
                                loc(n.outputs[0])));
      return;
    }
    case OpKind::kBroadcastTo: {
      const Shape ys = at_least_1d(g.shape(n.outputs[0]));
      Shape xs = g.shape(n.inputs[0]);
      out.push_back(copy_record(ys, broadcast_strides(ys, xs), contiguous_strides(ys), loc(n.inputs[0]),
                                loc(n.outputs[0])));
      return;
    }
    case OpKind::kLrn: {
      const LrnGeometry l = lrn_geometry(g, n);
      r.op = RG_OP_LRN;
      r.p[RG_P_LRN_N] = u32(l.n, "batch"), r.p[RG_P_LRN_C] = u32(l.c, "channels");
      r.p[RG_P_LRN_HW] = u32(l.hw, "plane"), r.p[RG_P_LRN_BEFORE] = u32(l.before, "window");
      r.p[RG_P_LRN_AFTER] = u32(l.after, "window"), r.p[RG_P_LRN_SIZE] = u32(l.size, "window");
      auto put_double = [&](uint32_t at, double d) {
        uint64_t bits;
        std::memcpy(&bits, &d, 8);
        r.p[at] = uint32_t(bits), r.p[at + 1] = uint32_t(bits >> 32);
      };
      put_double(RG_P_LRN_ALPHA, l.alpha), put_double(RG_P_LRN_BETA, l.beta), put_double(RG_P_LRN_BIAS, l.bias);
      r.slot[RG_SLOT_X] = loc(n.inputs[0]);
      r.slot[RG_SLOT_Y] = loc(n.outputs[0]);
      break;
    }
    case OpKind::kPad:
    case OpKind::kResizeNearest: {
      const AxisGather a = axis_gather(g, n);
      const Shape& xs = g.shape(n.inputs[0]);
      if (a.out.empty() || a.out.size() > RG_PLAN_MAX_RANK) unsupported(std::string(op_name(n.op)) + " of rank 0 or above 8");
      r.op = RG_OP_GATHER;
      r.f = a.fill;
      r.p[RG_P_GATHER_RANK] = uint32_t(a.out.size());
      set_shape(r.p + RG_P_GATHER_OUT, a.out);
      set_shape(r.p + RG_P_GATHER_IN, xs);
      std::vector<uint32_t> maps;
      for (const std::vector<int64_t>& m : a.map)
        for (int64_t v : m) maps.push_back(v < 0 ? RG_GATHER_FILL : u32(v, "an index"));
      r.slot[RG_SLOT_X] = loc(n.inputs[0]);
      r.slot[RG_SLOT_Y] = loc(n.outputs[0]);
      r.slot[RG_SLOT_AUX] = loc.table(maps.data(), maps.size() * sizeof(uint32_t));
      break;
    }
    case OpKind::kResizeBilinear: {
      const ResizeGeometry geo = resize_geometry(g, n);
      r.op = RG_OP_RESIZE_BILINEAR;
      r.p[RG_P_BL_PLANES] = u32(geo.planes, "planes"), r.p[RG_P_BL_H] = u32(geo.h, "height");
      r.p[RG_P_BL_W] = u32(geo.w, "width"), r.p[RG_P_BL_HO] = u32(geo.ho, "height");
      r.p[RG_P_BL_WO] = u32(geo.wo, "width");
      std::vector<rg_bilinear_tap> taps;
      for (const auto* side : {&geo.rows, &geo.cols})
        for (const BilinearTap& t : *side)
          taps.push_back({u32(t.i0, "a row"), u32(t.i1, "a row"), t.l0, t.l1});
      r.slot[RG_SLOT_X] = loc(n.inputs[0]);
      r.slot[RG_SLOT_Y] = loc(n.outputs[0]);
      r.slot[RG_SLOT_AUX] = loc.table(taps.data(), taps.size() * sizeof(rg_bilinear_tap));
      break;
    }
    case OpKind::kFill:
      r.op = RG_OP_FILL;
      r.p[RG_P_FILL_COUNT_ELEMENTS] = u32(g.desc(n.outputs[0]).numel(), "elements");
      r.f = n.attrs.scalar;
      r.slot[RG_SLOT_Y] = loc(n.outputs[0]);
      break;
    default:
      unsupported(std::string(op_name(n.op)) + " (making " + g.value_label(n.outputs[0]) + ")");
  }
  out.push_back(r);
}

uint8_t reg8(int r) {
  if (r < 0) return RG_CHAIN_NO_REG;
  if (r >= int(RG_CHAIN_MAX_REGS)) unsupported("a fused chain of more than 64 registers");
  return uint8_t(r);
}

// The chain as ElementwiseProgram lowers it (backends/ref/elementwise_ref.cpp).
rg_chain_record chain_record(const Graph& g, const FusionGroup& grp, const std::vector<NodeId>& chain,
                             Locator& loc) {
  const LoweredChain lc = lower_chain(g, grp, chain);
  if (!lc.given.empty()) throw std::logic_error("export: a reference chain with given registers");
  const Shape shape = at_least_1d(lc.shape);
  if (shape.size() > RG_PLAN_MAX_RANK) unsupported("a fused chain of rank above 8");
  if (lc.loads.size() > RG_CHAIN_MAX_LOADS || lc.stores.size() > RG_CHAIN_MAX_STORES ||
      lc.program.code.size() > RG_CHAIN_MAX_CODE || lc.program.constants.size() > RG_CHAIN_MAX_CONSTS)
    unsupported("a fused chain of " + std::to_string(lc.loads.size()) + " loads, " +
                std::to_string(lc.stores.size()) + " stores, " + std::to_string(lc.program.code.size()) +
                " instructions (at most 8, 4, 32)");
  rg_chain_record c{};
  c.rank = uint32_t(shape.size());
  set_shape(c.dims, shape);
  c.n_loads = uint32_t(lc.loads.size()), c.n_stores = uint32_t(lc.stores.size());
  c.n_code = uint32_t(lc.program.code.size()), c.n_consts = uint32_t(lc.program.constants.size());
  c.n_regs = reg8(lc.program.num_regs - 1) + 1u;
  for (size_t i = 0; i < lc.loads.size(); ++i) {
    const ChainLoad& l = lc.loads[i];
    if (l.value == kNoValue) throw std::logic_error("export: a reference chain with its own load");
    rg_chain_load& o = c.loads[i];
    o.reg = reg8(l.reg), o.full = l.full;
    if (!l.full) set_strides(o.strides, l.strides.empty() ? std::vector<int64_t>(shape.size(), 0) : l.strides);
    o.t = loc(l.value);
  }
  for (size_t i = 0; i < lc.stores.size(); ++i) {
    c.stores[i].reg = reg8(lc.stores[i].reg);
    c.stores[i].t = loc(lc.stores[i].value);
  }
  for (size_t i = 0; i < lc.program.code.size(); ++i) {
    const auto& in = lc.program.code[i];
    c.code[i] = {uint8_t(in.op), reg8(in.x), reg8(in.y), reg8(in.z), reg8(in.out), {0, 0, 0}};
  }
  for (size_t i = 0; i < lc.program.constants.size(); ++i)
    c.consts[i] = {uint32_t(reg8(lc.program.constants[i].first)), float(lc.program.constants[i].second)};
  return c;
}

template <typename T>
void put(std::vector<uint8_t>& out, size_t at, const T& v) {
  std::memcpy(out.data() + at, &v, sizeof v);
}

}  // namespace

uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

std::vector<uint8_t> encode_plan(const Plan& plan, const Session& session, const std::vector<PlanIo>& io,
                                 const EncodeOptions& opt) {
  const rg_weight_type weights = opt.weights;
  const Graph& g = *plan.graph;
  if (g.float_type() != DType::f32) unsupported("an f64 plan");
  static_assert(int(EwInstrKind::kAdd) == RG_CHAIN_ADD && int(EwInstrKind::kSub) == RG_CHAIN_SUB &&
                int(EwInstrKind::kMul) == RG_CHAIN_MUL && int(EwInstrKind::kDiv) == RG_CHAIN_DIV &&
                int(EwInstrKind::kTanh) == RG_CHAIN_TANH && int(EwInstrKind::kExp) == RG_CHAIN_EXP &&
                int(EwInstrKind::kSelectPositive) == RG_CHAIN_SELECT_POSITIVE);
  const RuntimeArena arena = plan_runtime_arena(plan, io, opt);
  Locator loc(plan, session, weights, arena);
  std::vector<rg_kernel_record> kernels;
  std::vector<rg_chain_record> chains;
  const Folds folds = opt.fold_batch_norm ? find_folds(plan, loc) : Folds{};
  for (size_t k = 0; k < plan.groups.size(); ++k) {
    if (!dynamic_cast<const ref::RefKernel<float>*>(plan.kernels[k].get()) ||
        (k < plan.on_fallback.size() && plan.on_fallback[k]))
      throw std::logic_error("export: the plan was not compiled by the reference backend in f32");
    const FusionGroup& grp = plan.groups[k];
    std::vector<NodeId> chain;
    loc.enter_group(k);
    for (NodeId id : grp.nodes) {
      const Node& n = g.node(id);
      if (is_elementwise(n.op))
        chain.push_back(id);
      else
        node_records(g, id, loc, opt, folds, kernels, chains);
    }
    if (!chain.empty()) {
      rg_kernel_record r{};
      r.op = RG_OP_CHAIN;
      r.p[RG_P_CHAIN_INDEX] = uint32_t(chains.size());
      chains.push_back(chain_record(g, grp, chain, loc));
      kernels.push_back(r);
    }
  }
  if (kernels.size() > RG_PLAN_MAX_KERNELS) unsupported("a plan of more than 65536 kernels");
  std::vector<rg_io_record> ios;
  if (io.empty() || io.size() > RG_PLAN_MAX_IO) unsupported("a plan without inputs/outputs or with more than 64");
  for (const PlanIo& e : io) {
    rg_io_record r{};
    if (e.name.empty() || e.name.size() >= RG_PLAN_NAME_BYTES || e.name.find('\0') != std::string::npos)
      unsupported("the input/output name \"" + e.name + "\" (1 to 63 bytes)");
    std::memcpy(r.name, e.name.data(), e.name.size());
    r.role = e.input ? RG_IO_INPUT : RG_IO_OUTPUT;
    const Shape& s = g.shape(e.value);
    if (s.size() > RG_PLAN_MAX_RANK) unsupported("an input or output of rank above 8");
    r.rank = uint32_t(s.size());
    for (size_t d = 0; d < s.size(); ++d) r.dims[d] = uint64_t(s[d]);
    r.t = loc(e.value);
    if (r.t.region != RG_REGION_ARENA)
      unsupported("the " + std::string(e.input ? "input" : "output") + " \"" + e.name +
                  "\", which is a constant of the model");
    ios.push_back(r);
  }

  rg_plan_header h{};
  std::memcpy(h.magic, RG_PLAN_MAGIC, 8);
  h.version = RG_PLAN_VERSION;
  h.arena_bytes = arena.bytes;
  h.alignment = RG_PLAN_ALIGNMENT;
  h.dtype = weights;
  h.io_count = uint32_t(ios.size()), h.io_record_bytes = sizeof(rg_io_record);
  h.kernel_count = uint32_t(kernels.size()), h.kernel_record_bytes = sizeof(rg_kernel_record);
  h.chain_count = uint32_t(chains.size()), h.chain_record_bytes = sizeof(rg_chain_record);
  const size_t io_at = sizeof h, kernels_at = io_at + ios.size() * sizeof(rg_io_record),
               chains_at = kernels_at + kernels.size() * sizeof(rg_kernel_record);
  h.weights_offset = align_up(chains_at + chains.size() * sizeof(rg_chain_record), RG_PLAN_ALIGNMENT);
  const std::vector<uint8_t> section = loc.section();
  h.weights_bytes = section.size();
  h.file_bytes = h.weights_offset + h.weights_bytes;
  std::vector<uint8_t> out(h.file_bytes, 0);
  for (size_t i = 0; i < ios.size(); ++i) put(out, io_at + i * sizeof(rg_io_record), ios[i]);
  for (size_t i = 0; i < kernels.size(); ++i) put(out, kernels_at + i * sizeof(rg_kernel_record), kernels[i]);
  for (size_t i = 0; i < chains.size(); ++i) put(out, chains_at + i * sizeof(rg_chain_record), chains[i]);
  std::memcpy(out.data() + h.weights_offset, section.data(), section.size());
  put(out, 0, h);
  h.crc32 = rg_crc32(0, out.data() + 16, out.size() - 16);
  put(out, 0, h);
  // What the runtime will refuse is a bug here: say so now, not on the device.
  rg_plan check;
  if (const rg_status s = rg_plan_validate(out.data(), out.size(), &check); s != RG_OK)
    throw std::logic_error(std::string("export: the encoded plan does not validate: ") + rg_status_text(s));
  return out;
}

PlanStats plan_stats(const std::vector<uint8_t>& file) {
  rg_plan_header h;
  std::memcpy(&h, file.data(), sizeof h);
  PlanStats s;
  s.file_bytes = h.file_bytes, s.arena_bytes = h.arena_bytes, s.weights_bytes = h.weights_bytes;
  s.kernels = int(h.kernel_count), s.chains = int(h.chain_count);
  return s;
}

std::string plan_c_header(const std::vector<uint8_t>& file, const std::string& source, const std::string& tool) {
  rg_plan plan;
  if (rg_plan_validate(file.data(), file.size(), &plan) != RG_OK)
    throw std::logic_error("plan_c_header: not a valid plan");
  const rg_plan_header& h = plan.header;
  std::string s = "/* Written by `" + tool + "` from " + source +
                  ": the sizes of model.rgplan's regions and its inputs and\n * outputs "
                  "(docs/embedded.md). Allocate them, then rg_plan_validate and rg_run. */\n"
                  "#ifndef RG_MODEL_H\n#define RG_MODEL_H\n\n";
  auto def = [&](const std::string& name, uint64_t v, const std::string& what) {
    s += "#define " + name + " " + std::to_string(v) + "u /* " + what + " */\n";
  };
  def("RG_MODEL_PLAN_BYTES", h.file_bytes, "the whole plan file");
  def("RG_MODEL_ARENA_BYTES", h.arena_bytes, "caller-owned memory: inputs, outputs, activations, scratch");
  def("RG_MODEL_WEIGHTS_BYTES", h.weights_bytes, "weights, at RG_MODEL_WEIGHTS_OFFSET in the file");
  def("RG_MODEL_WEIGHTS_OFFSET", h.weights_offset, "bytes");
  def("RG_MODEL_ALIGNMENT", h.alignment, "of the weights section; give every region this alignment");
  def("RG_MODEL_KERNELS", h.kernel_count, "kernel records");
  def("RG_MODEL_WEIGHT_TYPE", h.dtype, "0: f32, 1: bf16, 2: int8 convolution weights (enum rg_weight_type)");
  for (uint32_t i = 0; i < h.io_count; ++i) {
    rg_io_record io;
    rg_plan_io(&plan, i, &io);
    std::string id;  // the name as a C identifier
    for (const char* c = io.name; *c; ++c) id += std::isalnum(uint8_t(*c)) ? char(std::toupper(uint8_t(*c))) : '_';
    const std::string base = std::string(io.role == RG_IO_INPUT ? "RG_MODEL_INPUT_" : "RG_MODEL_OUTPUT_") + id;
    std::string shape;
    for (uint32_t d = 0; d < io.rank; ++d) shape += (d ? ", " : "") + std::to_string(io.dims[d]);
    def(base + "_INDEX", i, std::string("\"") + io.name + "\", f32 [" + shape + "]: rg_io_data(plan, arena, i)");
    def(base + "_BYTES", io.t.bytes, "bytes");
  }
  char crc[16];
  std::snprintf(crc, sizeof crc, "0x%08xu", h.crc32);
  s += std::string("#define RG_MODEL_CRC32 ") + crc + " /* of the plan file, bytes 16 .. end */\n\n#endif\n";
  return s;
}

}  // namespace rg::app
