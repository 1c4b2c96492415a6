// SPDX-License-Identifier: Apache-2.0
// The network half of `ralsgan generate` (docs/contracts.md §4, §5): the
// latents of one batch of image indices, G run on them, the images read into
// the caller's buffer. On the reference backend it allocates nothing per
// batch; on oneDNN only oneDNN 2.6's per-execute argument maps (tested; the
// images' reorder is made once: docs/library.md, "What allocates"). The PNG
// encoders allocate either way.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "rg/session.h"

namespace rg::app {

class BatchGenerator {
 public:
  // `session` runs model::build_generate_graph(cfg, batch, ...) with nz =
  // cfg.nz; `file_z` holds --latents rows (empty: Philox latents of `seed`).
  BatchGenerator(Session& session, int nz, int batch, uint64_t seed, std::span<const float> file_z);

  // Images of indices first .. first + n - 1 (n <= batch; latent file rows
  // file_row .. file_row + n - 1 when there is a file) into `images`, which
  // holds batch images; rows past n are the padding's, to be dropped.
  void run(uint64_t first, uint64_t file_row, uint64_t n, std::span<float> images);

 private:
  Session& session_;
  int nz_, batch_;
  uint64_t seed_;
  std::span<const float> file_z_;
  std::vector<float> z_;
};

}  // namespace rg::app
