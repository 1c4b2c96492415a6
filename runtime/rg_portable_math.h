// SPDX-License-Identifier: Apache-2.0
/* Elementary functions whose f32 results are the same on every target, for
 * the runtime and the reference backend alike (bit-exact export,
 * docs/embedded.md). glibc's tanhf gives other last bits on AArch64 than on
 * x86-64 (measured: hashes of tanhf over a sweep of floats differ, while
 * exp, expf and log agree), so tanh is computed here in double from exp and
 * rounded once to f32: within one f32 ulp of the true value, and the same
 * wherever exp is. C99 and C++ (header only). */
#ifndef RG_PORTABLE_MATH_H
#define RG_PORTABLE_MATH_H

#include <math.h>

static inline float rg_tanhf(float x) {
  const double a = fabs((double)x);
  double t;
  if (!(a < 20.0)) {
    t = a != a ? a : 1.0; /* NaN stays NaN; from 20 on, tanh rounds to 1 in f32 */
  } else if (a < 0x1p-12) {
    t = a - a * a * a / 3.0; /* the series: exp(2a) - 1 would cancel */
  } else {
    const double e = exp(2.0 * a);
    t = (e - 1.0) / (e + 1.0);
  }
  return (float)(signbit(x) ? -t : t);
}

#endif /* RG_PORTABLE_MATH_H */
