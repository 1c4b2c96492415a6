// SPDX-License-Identifier: Apache-2.0
// ONNX import (docs/onnx.md): parse, check, convert node by node through the
// op families' converters, fold constants, mark outputs.
#include "frontends/onnx/onnx_importer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/plan.h"
#include "rg/session.h"
#include "rg/backend_ref.h"

namespace rg::onnx {

using AP = ::onnx::AttributeProto;

NodeContext::NodeContext(ImportState& state, const ::onnx::NodeProto& node,
                         std::vector<const Val*> inputs)
    : state_(state),
      node_(node),
      inputs_(std::move(inputs)),
      outputs_(size_t(node.output_size())) {}

std::string NodeContext::where() const {
  std::string name = node_.name();
  if (name.empty())
    name = node_.output_size() ? "producing '" + node_.output(0) + "'" : "(unnamed)";
  else
    name = "'" + name + "'";
  return state_.file + ": node " + name + " (" + node_.op_type() + ")";
}

void NodeContext::unsupported(const std::string& why) const {
  throw UnsupportedError(where() + ": " + why);
}

void NodeContext::unsupported_attr(const char* attr, const std::string& value) const {
  unsupported("attribute " + std::string(attr) + " = " + value + " is not supported");
}

const Const& NodeContext::constant(size_t i, const char* what) {
  if (has_input(i) && !inputs_[i]->c && !inputs_[i]->graph_input.empty())
    throw NeedsConstantError(where() + ": input " + std::to_string(i) + " (" + what +
                                 ") is the graph input '" + inputs_[i]->graph_input +
                                 "', which must be a constant: give its value at import "
                                 "(ImportOptions::constant_inputs)",
                             inputs_[i]->graph_input);
  if (!is_const(i))
    unsupported(std::string("input ") + std::to_string(i) + " (" + what +
                ") must be a constant (an initializer or computed from constants)");
  const Const& c = *inputs_[i]->c;
  if (c.in_weight < 0) return c;
  restored_.push_back(c);
  restored_.back().f = state_.weight_data(c.in_weight);
  restored_.back().in_weight = -1;
  return restored_.back();
}

ValueId NodeContext::value(size_t i) {
  if (!has_input(i)) unsupported("input " + std::to_string(i) + " is missing");
  const Val& v = *inputs_[i];
  if (v.v != kNoValue) return v.v;
  if (!v.c)
    unsupported("input " + std::to_string(i) + " is the integer graph input '" + v.graph_input +
                "', which the engine's ops do not take");
  if (!v.c->is_float)
    unsupported("input " + std::to_string(i) + " ('" + node_.input(int(i)) +
                "') is an integer tensor, which the engine's ops do not take");
  return state_.weight(node_.input(int(i)), *v.c);
}

Shape NodeContext::shape(size_t i) const {
  if (!has_input(i)) unsupported("input " + std::to_string(i) + " is missing");
  const Val& v = *inputs_[i];
  return v.c ? v.c->shape : v.v == kNoValue ? v.input_shape : state_.graph->shape(v.v);
}

const AP* NodeContext::attr(const char* name, int type) {
  for (const AP& a : node_.attribute())
    if (a.name() == name) {
      read_.insert(name);
      if (a.type() != type && !(type == AP::INTS && a.type() == AP::INT))
        unsupported("attribute " + std::string(name) + " has type " + std::to_string(a.type()) +
                    ", expected " + std::to_string(type));
      return &a;
    }
  return nullptr;
}

bool NodeContext::has_attr(const char* name) const {
  return std::any_of(node_.attribute().begin(), node_.attribute().end(),
                     [&](const AP& a) { return a.name() == name; });
}

int64_t NodeContext::attr_int(const char* name, int64_t def) {
  const AP* a = attr(name, AP::INT);
  return a ? a->i() : def;
}

std::vector<int64_t> NodeContext::attr_ints(const char* name, std::vector<int64_t> def) {
  const AP* a = attr(name, AP::INTS);
  if (!a) return def;
  if (a->type() == AP::INT) return {a->i()};
  return {a->ints().begin(), a->ints().end()};
}

float NodeContext::attr_float(const char* name, float def) {
  const AP* a = attr(name, AP::FLOAT);
  return a ? a->f() : def;
}

std::vector<float> NodeContext::attr_floats(const char* name) {
  const AP* a = attr(name, AP::FLOATS);
  if (!a) return {};
  return {a->floats().begin(), a->floats().end()};
}

std::string NodeContext::attr_string(const char* name, std::string def) {
  const AP* a = attr(name, AP::STRING);
  return a ? a->s() : def;
}

std::optional<Const> NodeContext::attr_tensor(const char* name) {
  const AP* a = attr(name, AP::TENSOR);
  if (!a) return std::nullopt;
  try {
    return decode_tensor(a->t(), "");
  } catch (const std::invalid_argument& e) {
    throw FileError(where() + ": attribute " + name + ": " + e.what());
  }
}

void NodeContext::set_output(size_t i, ValueId v) {
  if (i < outputs_.size()) outputs_[i] = Val::of(v);
}

void NodeContext::set_output(size_t i, Const c) {
  if (i < outputs_.size()) outputs_[i] = Val::of(std::move(c));
}

std::vector<Val> NodeContext::finish() {
  for (const AP& a : node_.attribute())
    if (!read_.count(a.name())) unsupported("attribute " + a.name() + " is not supported");
  for (size_t i = 0; i < outputs_.size(); ++i)
    if (!node_.output(int(i)).empty() && !outputs_[i].c && outputs_[i].v == kNoValue)
      outputs_[i].unsupported = where() + ": output " + std::to_string(i) + " ('" +
                                node_.output(int(i)) + "') is not supported";
  return std::move(outputs_);
}

int64_t normalized_axis(NodeContext& c, int64_t axis, size_t rank, const char* what) {
  const int64_t r = int64_t(rank);
  if (axis < -r || axis >= r)
    c.unsupported(std::string(what) + " " + std::to_string(axis) + " is out of range for rank " +
                  std::to_string(r));
  return axis < 0 ? axis + r : axis;
}

namespace {

const OnnxOp* find_op(const std::string& type) {
  for (auto family : {convolution_ops(), elementwise_ops(), pooling_ops(), shape_ops()})
    for (const OnnxOp& op : family)
      if (type == op.type) return &op;
  return nullptr;
}

class Importer {
 public:
  Importer(const std::string& file, std::string dir, const ImportOptions& opt)
      : file_(file), dir_(std::move(dir)), opt_(opt) {}

  Model run(::onnx::ModelProto& m) {
    Model model;
    model.graph = std::make_shared<Graph>(DType::f32);
    g_ = model.graph.get();
    model_ = &model;
    read_opset(m);
    model.opset = opset_;
    model.producer =
        m.producer_name() + (m.producer_version().empty() ? "" : " " + m.producer_version());
    if (!m.has_graph()) fail("has no graph");
    ::onnx::GraphProto& gp = *m.mutable_graph();
    for (auto& t : *gp.mutable_initializer()) {
      if (vals_.count(t.name())) fail("initializer '" + t.name() + "' is defined twice");
      try {
        vals_[t.name()] = Val::of(decode_tensor(t, dir_));
      } catch (const std::invalid_argument& e) {
        fail(std::string("initializer: ") + e.what());
      }
      t.clear_raw_data(), t.clear_float_data();  // decoded: one copy of the weights at a time
    }
    for (const auto& in : gp.input()) {
      if (vals_.count(in.name()))
        continue;  // an initializer listed as an input (IR < 4): its value
      add_input(in, model);
    }
    ImportState state{file_, opset_, g_,
                      [this](const std::string& n, const Const& c) { return weight(n, c); },
                      [this](int64_t w) { return model_->weights.at(size_t(w)).data; }};
    for (int k = 0; k < gp.node_size(); ++k) convert(gp.node(k), k, state);
    for (const auto& out : gp.output()) {
      if (out.name().empty() || std::count(model.outputs.begin(), model.outputs.end(), out.name()))
        fail("graph output '" + out.name() + "' is empty or listed twice");
      auto it = vals_.find(out.name());
      if (it == vals_.end()) fail("graph output '" + out.name() + "' is not computed by any node");
      if (!it->second.unsupported.empty())
        throw UnsupportedError(it->second.unsupported + " (a graph output)");
      ValueId v = it->second.v;
      if (it->second.c) {
        if (!it->second.c->is_float)
          throw UnsupportedError(file_ + ": graph output '" + out.name() +
                                 "' is an integer tensor");
        v = weight(out.name(), *it->second.c);
      }
      const bool needs_copy =
          g_->value(v).producer < 0 || g_->value(v).variable >= 0 ||
          std::find(g_->outputs().begin(), g_->outputs().end(), v) != g_->outputs().end() ||
          g_->node(g_->value(v).producer).op == OpKind::kInput;
      if (needs_copy) v = g_->mul_scalar(v, 1.0);  // an output of its own (exact)
      g_->mark_output(v, out.name());
      model.outputs.push_back(out.name());
    }
    return model;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const { throw FileError(file_ + ": " + why); }

  void read_opset(const ::onnx::ModelProto& m) {
    for (const auto& o : m.opset_import())
      if (o.domain().empty() || o.domain() == "ai.onnx") opset_ = o.version();
    if (opset_ == 0) fail("imports no opset of the default ONNX domain");
    if (opset_ < 7 || opset_ > 21)
      throw UnsupportedError(file_ + ": opset " + std::to_string(opset_) + " (supported: 7 to 21)");
  }

  void add_input(const ::onnx::ValueInfoProto& in, Model& model) {
    const std::string& name = in.name();
    if (!in.type().has_tensor_type())
      throw UnsupportedError(file_ + ": input '" + name + "' is not a tensor");
    const auto& tt = in.type().tensor_type();
    const int type = tt.elem_type();
    const bool is_float = type == ::onnx::TensorProto::FLOAT;
    const bool is_int = type == ::onnx::TensorProto::INT64 || type == ::onnx::TensorProto::INT32;
    if (!is_float && !is_int)
      throw UnsupportedError(file_ + ": input '" + name + "' has element type " +
                             std::to_string(type) +
                             " (supported: float, and integers given at import)");
    Shape shape;
    if (auto it = opt_.input_shapes.find(name); it != opt_.input_shapes.end()) {
      shape = it->second;
    } else {
      if (!tt.has_shape())
        throw UnsupportedError(file_ + ": input '" + name + "' has no shape; give it");
      for (int d = 0; d < tt.shape().dim_size(); ++d) {
        const auto& dim = tt.shape().dim(d);
        if (dim.has_dim_value() && dim.dim_value() == 0) {
          throw UnsupportedError(file_ + ": input '" + name + "' has a zero-size dimension " +
                                 std::to_string(d));
        } else if (dim.has_dim_value() && dim.dim_value() > 0) {
          shape.push_back(dim.dim_value());
        } else if (d == 0) {
          shape.push_back(opt_.batch);
        } else {
          throw UnsupportedError(file_ + ": input '" + name + "' has a symbolic dimension " +
                                 std::to_string(d) + " ('" + dim.dim_param() +
                                 "'); give the input's shape");
        }
      }
    }
    int64_t n = 0;
    try {
      n = checked_numel(shape, "input '" + name + "'");
    } catch (const std::invalid_argument& e) {
      fail(e.what());
    }
    Val val;
    val.graph_input = name, val.input_shape = shape;
    if (auto it = opt_.constant_inputs.find(name); it != opt_.constant_inputs.end()) {
      if (int64_t(it->second.size()) != n)
        throw UnsupportedError(file_ + ": the constant given for input '" + name + "' has " +
                               std::to_string(it->second.size()) + " values, its shape " +
                               shape_str(shape) + " needs " + std::to_string(n));
      if (is_float) {
        val.c = Const::of_floats(std::vector<float>(it->second.begin(), it->second.end()), shape);
      } else {
        std::vector<int64_t> v;
        for (double x : it->second) v.push_back(int64_t(x));
        val.c = Const::of_ints(std::move(v), shape);
      }
    } else if (is_float) {
      val.v = g_->input(name, shape);
      model.inputs.push_back(name);
    }
    vals_[name] = std::move(val);
  }

  // The constant's floats move into the weight when it is the model's value
  // of that name (an initializer or folded constant), else they are copied.
  ValueId weight(const std::string& name, const Const& c) {
    if (auto it = weights_.find(name); it != weights_.end()) return it->second;
    const ValueId v = g_->variable(name, c.shape);
    auto it = vals_.find(name);
    if (it != vals_.end() && it->second.c && &*it->second.c == &c && c.in_weight < 0) {
      Const& own = *it->second.c;
      model_->weights.push_back(Weight{name, own.shape, std::move(own.f)});
      own.f.clear();
      own.in_weight = int64_t(model_->weights.size()) - 1;
    } else {
      model_->weights.push_back(Weight{
          name, c.shape, c.in_weight >= 0 ? model_->weights.at(size_t(c.in_weight)).data : c.f});
    }
    weights_[name] = v;
    return v;
  }

  void convert(const ::onnx::NodeProto& node, int index, ImportState& state) {
    std::vector<const Val*> ins;
    bool all_const = true;
    for (const std::string& name : node.input()) {
      if (name.empty()) {
        ins.push_back(nullptr);
        continue;
      }
      auto it = vals_.find(name);
      if (it == vals_.end())
        fail("node " + std::to_string(index) + " (" + node.op_type() + ") reads '" + name +
             "', which no input, initializer or earlier node defines (a cycle, a missing "
             "initializer, or nodes out of "
             "order)");
      if (!it->second.unsupported.empty())
        throw UnsupportedError(it->second.unsupported + ", and node '" + node.name() +
                               "' reads it");
      ins.push_back(&it->second);
      all_const = all_const && it->second.c.has_value();
      if (!it->second.c && it->second.v == kNoValue)
        all_const = false;  // an integer input not given
    }
    if (!node.domain().empty() && node.domain() != "ai.onnx")
      throw UnsupportedError(file_ + ": node '" + node.name() + "' (" + node.op_type() +
                             "): domain '" + node.domain() + "' is not supported");
    const OnnxOp* op = find_op(node.op_type());
    if (!op)
      throw UnsupportedError(file_ + ": node '" + node.name() + "': op " + node.op_type() +
                             " is not supported");
    std::vector<Val> outs = all_const ? fold(*op, node, ins) : run_converter(*op, node, ins, state);
    for (int i = 0; i < node.output_size(); ++i) {
      const std::string& name = node.output(i);
      if (name.empty()) continue;
      if (vals_.count(name))
        fail("value '" + name + "' is defined twice (node '" + node.name() + "')");
      if (outs[size_t(i)].v != kNoValue && g_->value(outs[size_t(i)].v).name.empty())
        g_->set_name(outs[size_t(i)].v, name);
      vals_[name] = std::move(outs[size_t(i)]);
    }
  }

  std::vector<Val> run_converter(const OnnxOp& op, const ::onnx::NodeProto& node,
                                 std::vector<const Val*> ins, ImportState& state) {
    NodeContext c(state, node, std::move(ins));
    try {
      op.convert(c);
    } catch (const GraphError& e) {
      c.unsupported(e.what());
    } catch (const std::invalid_argument& e) {
      c.unsupported(e.what());
    } catch (const std::out_of_range& e) {  // an index or axis a converter read with .at()
      c.unsupported(std::string("an index or axis is out of range (") + e.what() + ")");
    }
    return c.finish();
  }

  // Every input is a constant: the converter builds its op in a scratch graph
  // whose inputs are those constants, and the reference backend computes it
  // once (or the converter folds it on the host itself).
  std::vector<Val> fold(const OnnxOp& op, const ::onnx::NodeProto& node,
                        std::vector<const Val*> ins) {
    auto scratch = std::make_shared<Graph>(DType::f32);
    struct Feed {
      std::string name;
      const Const* c;
      ValueId v;
    };
    std::vector<Feed> feeds;
    ImportState state{file_, opset_, scratch.get(),
                      [&](const std::string& n, const Const& c) {
                        for (const Feed& f : feeds)
                          if (f.name == n) return f.v;
                        feeds.push_back({n, &c, scratch->input(n, c.shape)});
                        return feeds.back().v;
                      },
                      [this](int64_t w) { return model_->weights.at(size_t(w)).data; }};
    std::vector<Val> outs = run_converter(op, node, ins, state);
    bool any_value = false;
    for (size_t i = 0; i < outs.size(); ++i) {
      for (const Feed& f : feeds)  // an output that is a constant fed in: that constant
        if (outs[i].v != kNoValue && outs[i].v == f.v) {
          Const c = *f.c;
          if (c.in_weight >= 0)
            c.f = model_->weights.at(size_t(c.in_weight)).data, c.in_weight = -1;
          outs[i] = Val::of(std::move(c));
        }
      if (outs[i].v != kNoValue) {
        scratch->mark_output(outs[i].v, "out" + std::to_string(i));
        any_value = true;
      }
    }
    if (!any_value) return outs;
    auto ref = make_ref_backend();
    auto plan = compile(scratch, *ref);
    Session s(*plan);
    for (const Feed& f : feeds) {
      if (f.c->in_weight >= 0) {
        s.set_input(f.name,
                    std::span<const float>(model_->weights.at(size_t(f.c->in_weight)).data));
      } else {
        s.set_input(f.name, std::span<const float>(f.c->f));
      }
    }
    s.run();
    for (size_t i = 0; i < outs.size(); ++i)
      if (outs[i].v != kNoValue) {
        const std::vector<double> y = s.output("out" + std::to_string(i));
        outs[i] = Val::of(
            Const::of_floats(std::vector<float>(y.begin(), y.end()), scratch->shape(outs[i].v)));
      }
    return outs;
  }

  std::string file_, dir_;
  const ImportOptions& opt_;
  int64_t opset_ = 0;
  Graph* g_ = nullptr;
  Model* model_ = nullptr;
  std::map<std::string, Val> vals_;
  std::map<std::string, ValueId> weights_;
};

[[noreturn]] void not_onnx(const std::string& file) {
  throw FileError(file +
                  ": not a valid ONNX model (the protobuf does not parse: truncated or not ONNX)");
}

Model import_proto(std::string_view bytes, const std::string& file, const std::string& dir,
                   const ImportOptions& options) {
  ::onnx::ModelProto m;
  if (bytes.size() > size_t(INT32_MAX) || !m.ParseFromArray(bytes.data(), int(bytes.size())))
    not_onnx(file);
  return Importer(file, dir, options).run(m);
}

}  // namespace

Model import_bytes(std::string_view bytes, const std::string& name, const ImportOptions& options) {
  return import_proto(bytes, name, "", options);
}

Model import_file(const std::string& path, const ImportOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path + ": cannot open");
  ::onnx::ModelProto m;  // parsed from the stream: no second copy of the file in memory
  if (!m.ParseFromIstream(&in)) not_onnx(path);
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  return Importer(path, dir, options).run(m);
}

void Model::load_weights(Session& s) const {
  for (const Weight& w : weights) s.set_variable(w.name, std::span<const float>(w.data));
}

}  // namespace rg::onnx
