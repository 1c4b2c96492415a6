/* SPDX-License-Identifier: Apache-2.0 */
#include "rg_generate.h"

#include <math.h>

static void mulhilo(uint32_t a, uint32_t b, uint32_t* hi, uint32_t* lo) {
  const uint64_t p = (uint64_t)a * b;
  *hi = (uint32_t)(p >> 32);
  *lo = (uint32_t)p;
}

void rg_philox_words(uint64_t seed, uint32_t stream, uint64_t index, uint32_t k, uint32_t out[4]) {
  uint32_t c[4] = {k, (uint32_t)index, (uint32_t)(index >> 32), stream};
  uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(0xD2511F53u, c[0], &hi0, &lo0);
    mulhilo(0xCD9E8D57u, c[2], &hi1, &lo1);
    const uint32_t next[4] = {hi1 ^ c[1] ^ key[0], lo1, hi0 ^ c[3] ^ key[1], lo0};
    for (int i = 0; i < 4; ++i) c[i] = next[i];
    key[0] += 0x9E3779B9u;
    key[1] += 0xBB67AE85u;
  }
  for (int i = 0; i < 4; ++i) out[i] = c[i];
}

int rg_latent_vector(uint64_t seed, uint32_t stream, uint64_t index, float* out, size_t nz) {
  if (nz % 4 != 0) return -1;
  const double two_pi = 2.0 * 3.14159265358979323846;
  for (uint32_t k = 0; k < nz / 4; ++k) {
    uint32_t x[4];
    rg_philox_words(seed, stream, index, k, x);
    for (int pair = 0; pair < 2; ++pair) {
      const double u1 = ((double)x[2 * pair] + 1.0) / 4294967296.0;
      const double u2 = (double)x[2 * pair + 1] / 4294967296.0;
      const double r = sqrt(-2.0 * log(u1));
      out[4 * k + 2 * pair] = (float)(r * cos(two_pi * u2));
      out[4 * k + 2 * pair + 1] = (float)(r * sin(two_pi * u2));
    }
  }
  return 0;
}

static uint8_t quantize_pixel(float x) {
  const double v = floor(((double)x + 1.0) * 127.5 + 0.5);
  if (!(v > 0.0)) return 0; /* also NaN */
  return v >= 255.0 ? 255 : (uint8_t)v;
}

void rg_quantize_image(const float* chw, size_t size, uint8_t* rgb) {
  const size_t plane = size * size;
  for (size_t p = 0; p < plane; ++p)
    for (size_t c = 0; c < 3; ++c) rgb[p * 3 + c] = quantize_pixel(chw[c * plane + p]);
}
