// SPDX-License-Identifier: Apache-2.0
#include "apps/ralsgan/generate_batch.h"

#include <algorithm>

#include "apps/rng_streams.h"
#include "engine/rng/philox.h"

namespace rg::app {

BatchGenerator::BatchGenerator(Session& session, int nz, int batch, uint64_t seed,
                               std::span<const float> file_z)
    : session_(session),
      nz_(nz),
      batch_(batch),
      seed_(seed),
      file_z_(file_z),
      z_(size_t(batch) * size_t(nz)) {}

void BatchGenerator::run(uint64_t first, uint64_t file_row, uint64_t n, std::span<float> images) {
  const size_t nz = size_t(nz_);
  for (int j = 0; j < batch_; ++j) {
    const std::span<float> zj(&z_[size_t(j) * nz], nz);
    if (uint64_t(j) >= n) {
      std::fill(zj.begin(), zj.end(), 0.0f);  // padding of the last batch; its images are dropped
    } else if (!file_z_.empty()) {
      std::copy_n(&file_z_[size_t(file_row + uint64_t(j)) * nz], nz, zj.begin());
    } else {
      latent_vector(seed_, streams::kGeneration, first + uint64_t(j), zj);
    }
  }
  session_.set_input("z", std::span<const float>(z_));
  session_.run();
  session_.read_output("images", images);
}

}  // namespace rg::app
