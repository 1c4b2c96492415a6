/* SPDX-License-Identifier: Apache-2.0 */
/* A hosted example of the runtime (docs/embedded.md): reads a plan file,
 * generates images start .. start + count - 1 of a seed as `ralsgan generate`
 * does, and writes their 8-bit RGB pixels, one image after another, to a raw
 * file (tests compare it with the PNGs). The only allocations are the plan
 * file and its arena, made once: peak memory is the file (weights) + arena.
 *
 * usage: rg_generate_file PLAN SEED START COUNT OUT.rgb
 * Prints "<count> images in <seconds> s" to stderr; exit 1 with the runtime's
 * message on any error. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rg_generate.h"
#include "rg_runtime.h"

static int fail(const char* what, const char* why) {
  fprintf(stderr, "rg_generate_file: %s: %s\n", what, why);
  return 1;
}

static void* alloc64(size_t bytes) {
  return aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
}

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char** argv) {
  if (argc != 6) return fail("usage", "rg_generate_file PLAN SEED START COUNT OUT.rgb");
  const unsigned long long seed = strtoull(argv[2], NULL, 10), start = strtoull(argv[3], NULL, 10);
  const unsigned long long count = strtoull(argv[4], NULL, 10);
  FILE* f = fopen(argv[1], "rb");
  if (!f) return fail(argv[1], "cannot open");
  fseek(f, 0, SEEK_END);
  const long file_bytes = ftell(f);
  fseek(f, 0, SEEK_SET);
  if (file_bytes <= 0) return fail(argv[1], "empty or unreadable");
  uint8_t* file = alloc64((size_t)file_bytes);
  if (!file || fread(file, 1, (size_t)file_bytes, f) != (size_t)file_bytes)
    return fail(argv[1], "cannot read");
  fclose(f);
  rg_plan plan;
  rg_status s = rg_plan_validate(file, (size_t)file_bytes, &plan);
  if (s != RG_OK) return fail(argv[1], rg_status_text(s));
  /* A generator plan: input "z" [batch, nz], output "images" [batch, 3, size, size]. */
  const int32_t zi = rg_plan_find_io(&plan, "z"), ii = rg_plan_find_io(&plan, "images");
  rg_io_record z_io, image_io;
  if (zi < 0 || ii < 0 || rg_plan_io(&plan, (uint32_t)zi, &z_io) != RG_OK ||
      rg_plan_io(&plan, (uint32_t)ii, &image_io) != RG_OK || z_io.rank != 2 ||
      image_io.rank != 4 || image_io.dims[1] != 3 || image_io.dims[2] != image_io.dims[3] ||
      image_io.dims[0] != z_io.dims[0])
    return fail(argv[1], "not a generator plan (input \"z\" [N, nz], output \"images\" [N, 3, S, S])");
  const uint64_t batch = z_io.dims[0], nz = z_io.dims[1], size = image_io.dims[2];
  void* arena = alloc64((size_t)plan.header.arena_bytes);
  const size_t per_image = (size_t)(size * size * 3);
  uint8_t* rgb = malloc(per_image);
  if (!arena || !rgb) return fail("memory", "out of memory");
  float* latents = rg_io_data(&plan, arena, (uint32_t)zi);
  const float* images = rg_io_data(&plan, arena, (uint32_t)ii);
  FILE* out = fopen(argv[5], "wb");
  if (!out) return fail(argv[5], "cannot create");
  const double t0 = now_seconds();
  for (unsigned long long done = 0; done < count; done += batch) {
    const unsigned long long n = count - done < batch ? count - done : batch;
    for (uint32_t j = 0; j < batch; ++j) {
      float* z = latents + (size_t)j * nz;
      if (j < n) {
        if (rg_latent_vector(seed, RG_STREAM_GENERATION, start + done + j, z, (size_t)nz) != 0)
          return fail(argv[1], "nz is not a multiple of 4");
      } else {
        memset(z, 0, (size_t)nz * sizeof(float)); /* padding of the last batch, dropped */
      }
    }
    if ((s = rg_run(&plan, rg_plan_weights(&plan), arena)) != RG_OK)
      return fail("rg_run", rg_status_text(s));
    for (unsigned long long j = 0; j < n; ++j) {
      rg_quantize_image(images + j * per_image, (size_t)size, rgb);
      if (fwrite(rgb, 1, per_image, out) != per_image) return fail(argv[5], "write failed");
    }
  }
  const double seconds = now_seconds() - t0;
  if (fclose(out) != 0) return fail(argv[5], "write failed");
  fprintf(stderr, "%llu images in %.4f s\n", count, seconds);
  free(rgb), free(arena), free(file);
  return 0;
}
