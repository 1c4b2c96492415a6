// SPDX-License-Identifier: Apache-2.0
// Inception-v3 (FID variant) feature extraction throughput.
// Usage: inception_bench WEIGHTS [images=16] [batch=8] [size=128] [width=1] [backend=ref|cpu]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "apps/metrics/inception.h"
#if RALSGAN_HAVE_ONEDNN
#include "engine/backend.h"
#include "rg/backend_onednn.h"
#endif
#include <stdexcept>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: inception_bench WEIGHTS [images=16] [batch=8] [size=128] [width=1] [backend=ref|cpu]\n");
    return 2;
  }
  const int n = argc > 2 ? std::atoi(argv[2]) : 16;
  const int batch = argc > 3 ? std::atoi(argv[3]) : 8;
  const int size = argc > 4 ? std::atoi(argv[4]) : 128;
  const double width = argc > 5 ? std::atof(argv[5]) : 1.0;
  const std::string backend = argc > 6 ? argv[6] : "ref";
  try {
    rg::metrics::InceptionOptions o;
    o.weights = argv[1];
    o.batch = batch;
    o.width = width;
    if (backend == "cpu") {
#if RALSGAN_HAVE_ONEDNN
      o.make_backend = [] { return rg::make_onednn_backend(); };
#else
      throw std::runtime_error("this build has no oneDNN backend");
#endif
    } else if (backend != "ref") {
      throw std::runtime_error("backend must be ref or cpu");
    }
    rg::metrics::InceptionExtractor net(o);
    std::vector<std::vector<uint8_t>> imgs(size_t(n), std::vector<uint8_t>(size_t(size) * size_t(size) * 3));
    for (size_t i = 0; i < imgs.size(); ++i)
      for (size_t j = 0; j < imgs[i].size(); ++j) imgs[i][j] = uint8_t((i * 131 + j * 7) % 251);
    std::vector<const uint8_t*> p;
    for (auto& v : imgs) p.push_back(v.data());
    // Warm-up: compile the plan and run one batch.
    std::vector<const uint8_t*> first(p.begin(), p.begin() + std::min<size_t>(p.size(), size_t(batch)));
    net.features(first, size);
    const auto t0 = std::chrono::steady_clock::now();
    const auto f = net.features(p, size);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s backend: %d images %dx%d, batch %d, width %g: %.2f s, %.3f images/s (feature[0][0] = %g)\n", backend.c_str(), n,
                size, size, batch, width, s, n / s, f(0, 0));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "inception_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
