/* SPDX-License-Identifier: Apache-2.0 */
/* Runs any plan file on inputs from .npy files, as `rg run` does
 * (docs/embedded.md): each output is written as DIR/<output name>.npy (f32,
 * the name with characters other than letters, digits, '_', '-' and '.'
 * replaced by '_') and its path printed on stdout.
 *
 * usage: rg_run_file PLAN --input NAME=FILE.npy ... --out DIR [--overwrite] [--repeat N]
 *
 * Inputs are little-endian float32 or float64 .npy files (C order) of
 * exactly the input's shape. --repeat N runs the plan N times and prints the
 * median milliseconds per run to stderr. An existing output file is an error
 * unless --overwrite; each is written to a temporary name and renamed. Exit
 * 1 with one line naming the file or value on any error. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "rg_runtime.h"

static int fail(const char* what, const char* why) {
  fprintf(stderr, "rg_run_file: %s: %s\n", what, why);
  return 1;
}

static void* alloc64(size_t bytes) {
  return aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return 1e3 * (double)t.tv_sec + 1e-6 * (double)t.tv_nsec;
}

/* The whole file, or null (errno set). */
static uint8_t* read_file(const char* path, size_t* bytes) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  uint8_t* data = NULL;
  if (fseek(f, 0, SEEK_END) == 0) {
    const long n = ftell(f);
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (data = alloc64((size_t)n)) != NULL &&
        fread(data, 1, (size_t)n, f) != (size_t)n) {
      free(data);
      data = NULL;
    }
    *bytes = n >= 0 ? (size_t)n : 0;
  }
  fclose(f);
  return data;
}

/* Reads a .npy into dst (the input's elements): checks the dtype, order and
 * shape against the plan's entry. Returns null, or why not. */
static const char* read_npy(const char* path, const rg_io_record* io, float* dst) {
  size_t n = 0;
  uint8_t* f = read_file(path, &n);
  if (!f) return "cannot read";
  const char* why = NULL;
  size_t hlen = 0, at = 0;
  if (n < 10 || memcmp(f, "\x93NUMPY", 6) != 0) {
    why = "not a .npy file";
  } else if (f[6] == 1) {
    hlen = (size_t)f[8] | (size_t)f[9] << 8, at = 10;
  } else if ((f[6] == 2 || f[6] == 3) && n >= 12) {
    hlen = (size_t)f[8] | (size_t)f[9] << 8 | (size_t)f[10] << 16 | (size_t)f[11] << 24, at = 12;
  } else {
    why = "unsupported .npy version";
  }
  if (!why && (hlen > n - at || hlen > 65536)) why = "truncated .npy header";
  char header[65537];
  if (!why) {
    memcpy(header, f + at, hlen);
    header[hlen] = 0;
  }
  int f8 = 0;
  if (!why) {
    if (strstr(header, "'descr': '<f4'"))
      f8 = 0;
    else if (strstr(header, "'descr': '<f8'"))
      f8 = 1;
    else
      why = "not little-endian float32 or float64 (descr <f4 or <f8)";
  }
  if (!why && !strstr(header, "'fortran_order': False")) why = "Fortran order is not supported";
  const char* shape = why ? NULL : strstr(header, "'shape': (");
  if (!why && !shape) why = "no shape in the .npy header";
  uint64_t count = 1;
  if (!why) {
    /* The tuple's integers, compared with the plan's dims. */
    const char* p = shape + 10;
    uint32_t rank = 0;
    while (!why) {
      while (*p == ' ' || *p == ',') ++p;
      if (*p == ')') break;
      char* end;
      errno = 0;
      const unsigned long long d = strtoull(p, &end, 10);
      if (end == p || errno) {
        why = "malformed shape in the .npy header";
        break;
      }
      if (rank >= io->rank || d != io->dims[rank]) why = "shape differs from the plan's input";
      count *= d;
      ++rank, p = end;
    }
    if (!why && rank != io->rank) why = "shape differs from the plan's input";
  }
  const size_t data_at = at + hlen, elt = f8 ? 8 : 4;
  if (!why && (count * elt > n - data_at)) why = "truncated .npy data";
  if (!why && count * elt != n - data_at) why = "trailing bytes after the .npy data";
  if (!why)
    for (uint64_t i = 0; i < count; ++i) {
      if (f8) {
        double v;
        memcpy(&v, f + data_at + i * 8, 8);
        dst[i] = (float)v;
      } else {
        memcpy(dst + i, f + data_at + i * 4, 4);
      }
    }
  free(f);
  return why;
}

/* Writes a float32 .npy (version 1.0, header padded to 64 bytes) to path
 * through path.tmp and a rename. */
static const char* write_npy(const char* path, const rg_io_record* io, const float* data) {
  char header[512];
  int len = snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
  uint64_t count = 1;
  for (uint32_t d = 0; d < io->rank; ++d) {
    len += snprintf(header + len, sizeof header - (size_t)len, "%llu,%s",
                    (unsigned long long)io->dims[d], d + 1 < io->rank ? " " : "");
    count *= io->dims[d];
  }
  if (io->rank > 1) --len; /* numpy writes (2, 3), but (5,) */
  len += snprintf(header + len, sizeof header - (size_t)len, "), }");
  while ((10 + len + 1) % 64 != 0) header[len++] = ' ';
  header[len++] = '\n';
  char tmp[4200];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return "path too long";
  FILE* f = fopen(tmp, "wb");
  if (!f) return "cannot create";
  const uint8_t magic[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(len & 0xff),
                             (uint8_t)(len >> 8)};
  int ok = fwrite(magic, 1, 10, f) == 10 && fwrite(header, 1, (size_t)len, f) == (size_t)len &&
           fwrite(data, sizeof(float), (size_t)count, f) == (size_t)count;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    remove(tmp);
    return "write failed";
  }
  return NULL;
}

static int cmp_double(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  const char* usage = "rg_run_file PLAN --input NAME=FILE.npy ... --out DIR [--overwrite] [--repeat N]";
  if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    printf("usage: %s\n\nRuns a plan file written by `ralsgan export` or `rg export` with the C runtime on\n"
           "float32 or float64 .npy inputs of the inputs' shapes, and writes each output as\n"
           "DIR/<output name>.npy (float32), printing its path (docs/embedded.md).\n\n"
           "  --input NAME=FILE.npy  an input's value; one per input\n"
           "  --out DIR              where the outputs go (created if missing)\n"
           "  --overwrite            replace output files that exist (else an error)\n"
           "  --repeat N             N more runs, timed: median and minimum ms to stderr\n",
           usage);
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "--version") == 0) {
    printf("rg_run_file (plan format %u)\n", RG_PLAN_VERSION);
    return 0;
  }
  if (argc < 2 || argv[1][0] == '-') return fail("usage", usage);
  const char* plan_path = argv[1];
  const char* out_dir = NULL;
  int overwrite = 0;
  long repeat = 0;
  for (int i = 2; i < argc; ++i) {
    if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
      out_dir = argv[++i];
    else if (strcmp(argv[i], "--input") == 0 && i + 1 < argc)
      ++i; /* read once the plan is known */
    else if (strcmp(argv[i], "--overwrite") == 0)
      overwrite = 1;
    else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
      repeat = strtol(argv[++i], NULL, 10);
    else
      return fail(argv[i], usage);
  }
  if (!out_dir) return fail("usage", usage);
  if (repeat < 0 || repeat > 100000) return fail("--repeat", "must be in [0, 100000]");
  size_t file_bytes = 0;
  uint8_t* file = read_file(plan_path, &file_bytes);
  if (!file) return fail(plan_path, strerror(errno));
  rg_plan plan;
  rg_status s = rg_plan_validate(file, file_bytes, &plan);
  if (s != RG_OK) return fail(plan_path, rg_status_text(s));
  void* arena = alloc64((size_t)plan.header.arena_bytes);
  if (!arena) return fail("memory", "cannot allocate the arena");
  memset(arena, 0, (size_t)plan.header.arena_bytes);
  const uint32_t n_io = rg_plan_io_count(&plan);
  char given[RG_PLAN_MAX_IO] = {0};
  for (int i = 2; i + 1 < argc; ++i) {
    if (strcmp(argv[i], "--input") != 0) continue;
    const char* arg = argv[++i];
    const char* eq = strchr(arg, '=');
    if (!eq || eq == arg || (size_t)(eq - arg) >= RG_PLAN_NAME_BYTES)
      return fail(arg, "expected --input NAME=FILE.npy");
    char name[RG_PLAN_NAME_BYTES];
    memcpy(name, arg, (size_t)(eq - arg));
    name[eq - arg] = 0;
    const int32_t k = rg_plan_find_io(&plan, name);
    rg_io_record io;
    if (k < 0 || rg_plan_io(&plan, (uint32_t)k, &io) != RG_OK || io.role != RG_IO_INPUT)
      return fail(name, "the plan has no input of that name");
    if (given[k]) return fail(name, "given twice");
    const char* why = read_npy(eq + 1, &io, rg_io_data(&plan, arena, (uint32_t)k));
    if (why) return fail(eq + 1, why);
    given[k] = 1;
  }
  char paths[RG_PLAN_MAX_IO][4096];
  for (uint32_t k = 0; k < n_io; ++k) {
    rg_io_record io;
    rg_plan_io(&plan, k, &io);
    if (io.role == RG_IO_INPUT && !given[k]) return fail(io.name, "input not given (--input NAME=FILE.npy)");
    if (io.role != RG_IO_OUTPUT) continue;
    char safe[RG_PLAN_NAME_BYTES];
    size_t j = 0;
    for (; io.name[j]; ++j) {
      const char c = io.name[j];
      const int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '_' || c == '-' || c == '.';
      safe[j] = keep ? c : '_';
    }
    safe[j] = 0;
    if (snprintf(paths[k], sizeof paths[k], "%s/%s.npy", out_dir, safe) >= (int)sizeof paths[k])
      return fail(out_dir, "path too long");
    struct stat st;
    if (!overwrite && stat(paths[k], &st) == 0) return fail(paths[k], "exists (--overwrite replaces it)");
  }
  if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) return fail(out_dir, strerror(errno));
  /* rg_run may overwrite its inputs: timed runs start from a copy of the arena as it is now. */
  void* pristine = repeat > 0 ? alloc64((size_t)plan.header.arena_bytes) : NULL;
  if (repeat > 0 && !pristine) return fail("memory", "cannot allocate");
  if (pristine) memcpy(pristine, arena, (size_t)plan.header.arena_bytes);
  if ((s = rg_run(&plan, rg_plan_weights(&plan), arena)) != RG_OK) return fail("rg_run", rg_status_text(s));
  if (repeat > 0) {
    double* ms = malloc((size_t)repeat * sizeof(double));
    void* scratch = alloc64((size_t)plan.header.arena_bytes);
    if (!ms || !scratch) return fail("memory", "cannot allocate");
    for (long r = 0; r < repeat; ++r) {
      memcpy(scratch, pristine, (size_t)plan.header.arena_bytes);
      const double t0 = now_ms();
      if ((s = rg_run(&plan, rg_plan_weights(&plan), scratch)) != RG_OK)
        return fail("rg_run", rg_status_text(s));
      ms[r] = now_ms() - t0;
    }
    qsort(ms, (size_t)repeat, sizeof(double), cmp_double);
    fprintf(stderr, "median %.3f ms, min %.3f ms over %ld runs\n", ms[repeat / 2], ms[0], repeat);
    free(ms), free(scratch), free(pristine);
  }
  for (uint32_t k = 0; k < n_io; ++k) {
    rg_io_record io;
    rg_plan_io(&plan, k, &io);
    if (io.role != RG_IO_OUTPUT) continue;
    const char* why = write_npy(paths[k], &io, rg_io_data(&plan, arena, k));
    if (why) return fail(paths[k], why);
    printf("%s\n", paths[k]);
  }
  free(arena), free(file);
  return 0;
}
