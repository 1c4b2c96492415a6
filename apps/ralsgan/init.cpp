// SPDX-License-Identifier: Apache-2.0
#include "apps/ralsgan/init.h"

#include <algorithm>
#include <cmath>

#include "engine/rng/philox.h"
#include "apps/rng_streams.h"

namespace rg::app {

void initialize_network(Session& s, const std::vector<model::ParamSpec>& specs, const std::string& prefix,
                        uint64_t seed, uint32_t network_id) {
  const Graph& g = *s.plan().graph;
  // The fan-in of each layer's weight, for its bias too.
  double bound = 0;
  for (size_t t = 0; t < specs.size(); ++t) {
    const model::ParamSpec& p = specs[t];
    if (g.find_variable(prefix + p.key) < 0) continue;
    const int64_t n = numel(p.shape);
    std::vector<double> v(size_t(n), 0.0);
    const bool bn = p.key.find("running") != std::string::npos || p.key.find("num_batches") != std::string::npos ||
                    (p.shape.size() == 1 && std::find_if(specs.begin(), specs.end(), [&](const model::ParamSpec& q) {
                                              return q.key == p.key.substr(0, p.key.rfind('.')) + ".running_mean";
                                            }) != specs.end());
    if (p.key.find("running_var") != std::string::npos || (bn && p.key.ends_with(".weight"))) {
      std::fill(v.begin(), v.end(), 1.0);
    } else if (!bn) {
      if (p.shape.size() == 4) bound = 1.0 / std::sqrt(double(p.shape[1] * p.shape[2] * p.shape[3]));
      const uint64_t index = (uint64_t(network_id) << 32) | t;
      for (int64_t i = 0; i < n; ++i) {
        const auto w = philox_words(seed, streams::kInitialWeights, index, uint32_t(i / 4));
        v[size_t(i)] = (2.0 * uniform_from_word(w[size_t(i % 4)]) - 1.0) * bound;
      }
    }
    if (p.dtype == DType::i64) {
      std::vector<int64_t> z(size_t(n), 0);
      s.set_variable(prefix + p.key, std::span<const int64_t>(z));
    } else {
      s.set_variable(prefix + p.key, std::span<const double>(v));
    }
  }
}

}  // namespace rg::app
