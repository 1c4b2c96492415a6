// SPDX-License-Identifier: Apache-2.0
// samples/losses.png: D's and G's losses over the logged steps, with step and
// loss axes that carry their values, a title, a legend naming D and G, and a
// trailing moving average drawn over the raw curves (GAN losses are noisy; the
// average shows the trend). Non-finite losses leave a gap.
#pragma once

#include <cstddef>
#include <vector>

#include "apps/ralsgan/canvas.h"
#include "apps/ralsgan/train_log.h"

namespace rg::app {

// Trailing mean of the last `window` finite values up to each i (NaN while
// there is none).
std::vector<double> moving_average(const std::vector<double>& v, size_t window);
// The window the plot uses for n points: about n / 25, at least 1, odd.
size_t smoothing_window(size_t n);

// Round tick values covering [lo, hi]: a step of 1, 2 or 5 times a power of
// ten giving at most `max_ticks` intervals; the range widened to whole steps.
struct Ticks {
  double lo = 0, hi = 1, step = 1;
  std::vector<double> at;
};
Ticks nice_ticks(double lo, double hi, int max_ticks);

// Where the data lands on the image (for the plot and its tests).
struct PlotFrame {
  int left = 0, top = 0, right = 0, bottom = 0;  // the plot area, inclusive
  Ticks x, y;
  int x_of(double step) const;
  int y_of(double loss) const;
};
PlotFrame plot_frame(const std::vector<LogRecord>& records, int width, int height);

// Colours: the raw curves light, their moving averages dark.
inline constexpr Rgb kRawD{250, 175, 175}, kRawG{175, 190, 250}, kMeanD{200, 20, 20},
    kMeanG{20, 50, 210};

Canvas plot_losses(const std::vector<LogRecord>& records, int width = 640, int height = 360);

}  // namespace rg::app
