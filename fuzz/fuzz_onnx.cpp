// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the ONNX importer (rg/onnx.h). Any input must import
// or be refused with FileError or UnsupportedError (NeedsConstantError is
// one); anything else escaping is a bug. A model that imports and is small
// is also compiled for the reference backend and run once on zeros.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "engine/plan.h"
#include "rg/session.h"
#include "rg/backend_ref.h"
#include "rg/onnx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rg::onnx::Model m;
  try {
    m = rg::onnx::import_bytes(std::string_view(reinterpret_cast<const char*>(data), size),
                               "fuzz.onnx");
  } catch (const rg::onnx::FileError&) {
    return 0;
  } catch (const rg::onnx::UnsupportedError&) {
    return 0;
  }
  int64_t elements = 0;
  for (rg::ValueId v = 0; v < m.graph->num_values(); ++v) elements += m.graph->desc(v).numel();
  if (m.graph->num_nodes() > 64 || elements > (1 << 20)) return 0;
  auto ref = rg::make_ref_backend();
  auto plan = rg::compile(m.graph, *ref);
  rg::Session s(*plan);
  m.load_weights(s);
  s.run();
  for (const auto& name : m.outputs)
    if (s.output(name).size() != size_t(m.graph->desc(m.graph->output(name)).numel())) std::abort();
  return 0;
}
