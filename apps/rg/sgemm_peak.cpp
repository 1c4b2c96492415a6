// SPDX-License-Identifier: Apache-2.0
#include "apps/rg/sgemm_peak.h"

#include <algorithm>
#include <chrono>
#include <vector>

#if RALSGAN_HAVE_ONEDNN
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#endif

namespace rg::tool {

double sgemm_gflops([[maybe_unused]] int threads) {
#if RALSGAN_HAVE_ONEDNN
  if (threads > 0) omp_set_num_threads(threads);
  constexpr int n = 1024;
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n, 0.f);
  double best = 1e30;
  for (int rep = 0; rep < 4; ++rep) {  // the first warms up; the fastest counts
    const auto t0 = std::chrono::steady_clock::now();
    if (dnnl_sgemm('N', 'N', n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n) !=
        dnnl_success)
      return 0;
    best = std::min(best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return 2.0 * n * n * n / best / 1e9;
#else
  return 0;
#endif
}

}  // namespace rg::tool
