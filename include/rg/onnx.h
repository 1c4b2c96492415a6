// SPDX-License-Identifier: Apache-2.0
// ONNX in and out (docs/onnx.md): a model file becomes a Graph with named
// inputs, outputs and weights, and a forward Graph with its weights becomes a
// standard ONNX model. Library target rg_onnx (Debian's libonnx-dev and
// protobuf); the core engine does not depend on it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "rg/graph.h"
#include "rg/session.h"

namespace rg::onnx {

// A file the importer cannot read: malformed, truncated, hostile (absurd
// sizes, cycles, missing initializers, external data outside the model's
// folder). The message names the file.
class FileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A valid model the engine cannot run: the message names the node, its op
// and, where it is one, the attribute.
class UnsupportedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A graph input that the engine needs at compile time (Clip's bounds,
// Resize's scales, Reshape's shape, ...: what fixes shapes or attributes)
// and that was not given in ImportOptions::constant_inputs.
class NeedsConstantError : public UnsupportedError {
 public:
  NeedsConstantError(const std::string& what, std::string input)
      : UnsupportedError(what), input(std::move(input)) {}
  std::string input;
};

struct ImportOptions {
  // The value of every symbolic (named or unknown) first dimension of an
  // input: the batch. Shapes are static once loaded.
  int64_t batch = 1;
  // Whole input shapes where the model's are symbolic elsewhere too.
  std::map<std::string, Shape> input_shapes;
  // Values of inputs folded as constants instead of fed (row-major; floats
  // or integers as the input's type): those a NeedsConstantError names.
  std::map<std::string, std::vector<double>> constant_inputs;
};

// A constant tensor of the model (an initializer, or a folded constant) that
// the graph reads as a variable.
struct Weight {
  std::string name;
  Shape shape;
  std::vector<float> data;
};

struct Model {
  std::shared_ptr<Graph> graph;  // f32
  // The inputs to feed (initializers excluded) and the outputs, in the
  // model's order, by their ONNX names (also the graph's names).
  std::vector<std::string> inputs, outputs;
  std::vector<Weight> weights;  // one per variable of the graph
  int64_t opset = 0;            // of the default domain
  std::string producer;         // producer_name and version
  // Writes the weights into a session of a plan compiled from `graph`.
  void load_weights(Session& s) const;
};

// Reads an ONNX file (external data relative to its folder, never outside it).
Model import_file(const std::string& path, const ImportOptions& options = {});
// The same from bytes in memory; `name` is the file name errors give, and
// external data is refused.
Model import_bytes(std::string_view bytes, const std::string& name,
                   const ImportOptions& options = {});

// Writes a forward graph (inputs, variables with their values, marked
// outputs) as an ONNX model (opset 18) that onnxruntime runs. Throws
// UnsupportedError naming a node whose op has no ONNX form.
void export_file(const Graph& g, const std::vector<Weight>& weights, const std::string& path);

}  // namespace rg::onnx
