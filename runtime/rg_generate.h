// SPDX-License-Identifier: Apache-2.0
/* Optional helpers for a device that reproduces `ralsgan generate`: image i
 * of seed s is rg_run on rg_latent_vector(s, RG_STREAM_GENERATION, i), then
 * rg_quantize_image (docs/contracts.md §4 and §5). C11, libm (log, sqrt, sin,
 * cos in double), no heap. */
#ifndef RG_GENERATE_H
#define RG_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The Philox stream of generation latents (apps/rng_streams.h: kGeneration). */
#define RG_STREAM_GENERATION 0u

/* One Philox4x32-10 block of counter (k, index lo, index hi, stream) under
 * the key (seed lo, seed hi): engine/rng/philox.cpp's philox_words. */
void rg_philox_words(uint64_t seed, uint32_t stream, uint64_t index, uint32_t k, uint32_t out[4]);

/* The latent vector of docs/contracts.md §4: nz floats, Box-Muller in double.
 * Returns 0, or -1 (nothing written) when nz is not a multiple of 4. */
int rg_latent_vector(uint64_t seed, uint32_t stream, uint64_t index, float* out, size_t nz);

/* One image f32 [3, size, size] in [-1, 1] to interleaved 8-bit RGB
 * [size, size, 3]: clamp(floor((x + 1) * 127.5 + 0.5), 0, 255) (§5). */
void rg_quantize_image(const float* chw, size_t size, uint8_t* rgb);

#ifdef __cplusplus
}
#endif

#endif /* RG_GENERATE_H */
