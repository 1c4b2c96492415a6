// SPDX-License-Identifier: Apache-2.0
#include "apps/ralsgan/loss_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>

namespace rg::app {

namespace {

constexpr Rgb kInk{0, 0, 0}, kGrid{225, 225, 225}, kWhite{255, 255, 255};
constexpr Rgb kMetric{40, 150, 60};  // the first --metrics value

// A tick value with as many decimals as the step needs.
std::string tick_label(double v, double step) {
  const int decimals = std::max(0, int(-std::floor(std::log10(step) + 1e-9)));
  char b[48];
  std::snprintf(b, sizeof b, "%.*f", decimals, std::abs(v) < step * 1e-9 ? 0.0 : v);
  return b;
}

}  // namespace

std::vector<double> moving_average(const std::vector<double>& v, size_t window) {
  std::vector<double> out(v.size(), std::numeric_limits<double>::quiet_NaN());
  window = std::max<size_t>(window, 1);
  for (size_t i = 0; i < v.size(); ++i) {
    double sum = 0;
    size_t n = 0;
    for (size_t k = i + 1 > window ? i + 1 - window : 0; k <= i; ++k)
      if (std::isfinite(v[k])) sum += v[k], ++n;
    if (n) out[i] = sum / double(n);
  }
  return out;
}

size_t smoothing_window(size_t n) {
  return std::max<size_t>(1, n / 25) | 1;
}

Ticks nice_ticks(double lo, double hi, int max_ticks) {
  if (!(hi > lo)) hi = lo + 1;
  const double raw = (hi - lo) / std::max(1, max_ticks);
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * p;
  for (double m : {1.0, 2.0, 5.0})
    if (m * p >= raw * (1 - 1e-12)) {
      step = m * p;
      break;
    }
  Ticks t;
  t.step = step;
  t.lo = std::floor(lo / step + 1e-9) * step;
  t.hi = std::ceil(hi / step - 1e-9) * step;
  for (int k = 0; t.lo + k * step <= t.hi + step * 1e-9; ++k) t.at.push_back(t.lo + k * step);
  return t;
}

int PlotFrame::x_of(double s) const {
  return left + int(std::lround((s - x.lo) / (x.hi - x.lo) * (right - left)));
}
int PlotFrame::y_of(double v) const {
  return bottom - int(std::lround((v - y.lo) / (y.hi - y.lo) * (bottom - top)));
}

PlotFrame plot_frame(const std::vector<LogRecord>& records, int width, int height) {
  PlotFrame f;
  f.left = 70, f.right = width - 20, f.top = 56, f.bottom = height - 42;
  double s0 = 0, s1 = 1, lo = 0, hi = 1;
  bool any = false;
  for (const LogRecord& r : records) {
    for (double v : {r.loss_d, r.loss_g}) {
      if (!std::isfinite(v)) continue;
      lo = any ? std::min(lo, v) : std::min(0.0, v);  // losses are >= 0: start the axis at 0
      hi = any ? std::max(hi, v) : v;
      any = true;
    }
  }
  if (!records.empty()) s0 = double(records.front().step), s1 = double(records.back().step);
  f.x = nice_ticks(s0, std::max(s1, s0 + 1), 8);
  if (f.x.step < 1) f.x = nice_ticks(s0, s0 + 8, 8);  // whole steps only
  f.y = nice_ticks(lo, hi, 6);
  return f;
}

Canvas plot_losses(const std::vector<LogRecord>& records, int width, int height) {
  Canvas c(width, height, kWhite);
  const PlotFrame f = plot_frame(records, width, height);
  const std::string title = "RaLSGAN losses";
  c.text((width - Canvas::text_width(title, 2)) / 2, 6, title, kInk, 2);

  // Grid lines and tick labels on both axes.
  for (double v : f.y.at) {
    const int y = f.y_of(v);
    for (int x = f.left; x <= f.right; x += 2) c.put(x, y, kGrid);
    c.line(f.left - 4, y, f.left, y, kInk);
    const std::string s = tick_label(v, f.y.step);
    c.text(f.left - 7 - Canvas::text_width(s), y - Canvas::kGlyphHeight / 2, s, kInk);
  }
  for (double v : f.x.at) {
    const int x = f.x_of(v);
    for (int y = f.top; y <= f.bottom; y += 2) c.put(x, y, kGrid);
    c.line(x, f.bottom, x, f.bottom + 4, kInk);
    const std::string s = tick_label(v, f.x.step);
    c.text(x - Canvas::text_width(s) / 2, f.bottom + 8, s, kInk);
  }
  c.line(f.left, f.top, f.left, f.bottom, kInk);
  c.line(f.left, f.bottom, f.right, f.bottom, kInk);
  c.text((f.left + f.right - Canvas::text_width("step")) / 2, height - 14, "step", kInk);
  c.text(f.left - Canvas::text_width("loss") / 2, f.top - 14, "loss", kInk);

  // Legend, under the title.
  const size_t w = smoothing_window(records.size());
  int lx = f.left + 40;
  const int ly = 34;
  for (auto [name, colour] : {std::pair{"D loss", kMeanD}, {"G loss", kMeanG}}) {
    c.line(lx, ly + 3, lx + 18, ly + 3, colour, 3);
    c.text(lx + 24, ly, name, kInk);
    lx += 24 + Canvas::text_width(name) + 24;
  }
  c.text(lx, ly, "thin: each logged step; thick: moving average of " + std::to_string(w), kInk);

  std::vector<double> steps, d, g;
  for (const LogRecord& r : records)
    steps.push_back(double(r.step)), d.push_back(r.loss_d), g.push_back(r.loss_g);
  auto draw = [&](const std::vector<double>& v, Rgb colour, int thickness) {
    int px = 0, py = 0;
    bool have = false;
    for (size_t i = 0; i < v.size(); ++i) {
      if (!std::isfinite(v[i])) {
        have = false;  // a gap
        continue;
      }
      const int x = f.x_of(steps[i]), y = f.y_of(v[i]);
      if (have)
        c.line(px, py, x, y, colour, thickness);
      else
        c.fill(x - (thickness - 1) / 2, y - (thickness - 1) / 2, thickness, thickness, colour);
      px = x, py = y, have = true;
    }
  };
  draw(d, kRawD, 1);
  draw(g, kRawG, 1);
  draw(moving_average(d, w), kMeanD, 2);
  draw(moving_average(g, w), kMeanG, 2);

  // The first image-quality metric (--metrics-every), on its own scale: its
  // lowest value at the frame's bottom, its highest at the top, both printed
  // at the right end of the legend.
  std::vector<double> ms, mv;
  std::string metric;
  for (const LogRecord& r : records)
    if (!r.metrics.empty() && std::isfinite(r.metrics[0].second))
      metric = r.metrics[0].first, ms.push_back(double(r.step)), mv.push_back(r.metrics[0].second);
  if (!mv.empty()) {
    const auto [lo, hi] = std::minmax_element(mv.begin(), mv.end());
    const double a = *lo, b = *hi > *lo ? *hi : *lo + 1;
    int px = 0, py = 0;
    for (size_t i = 0; i < mv.size(); ++i) {
      const int x = f.x_of(ms[i]);
      const int y = f.bottom - int(std::lround((mv[i] - a) / (b - a) * (f.bottom - f.top)));
      if (i) c.line(px, py, x, y, kMetric, 2);
      c.fill(x - 2, y - 2, 5, 5, kMetric);
      px = x, py = y;
    }
    char range[96];
    std::snprintf(range, sizeof range, "%s %.4g (bottom) to %.4g (top)", metric.c_str(), a, *hi);
    c.line(f.left + 40, 48, f.left + 58, 48, kMetric, 3);
    c.text(f.left + 64, 45, range, kInk);
  }
  return c;
}

}  // namespace rg::app
