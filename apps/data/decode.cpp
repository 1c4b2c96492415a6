// SPDX-License-Identifier: Apache-2.0
#include "apps/data/decode.h"

#include <gif_lib.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "apps/data/png_reader.h"
#include "apps/data/read_file.h"

namespace rg::data {

const char* fit_name(Fit fit) { return fit == Fit::kStretch ? "stretch" : "pad"; }

Fit parse_fit(const char* name) {
  std::string_view n = name ? name : "";
  if (n == "pad") return Fit::kPad;
  if (n == "stretch") return Fit::kStretch;
  throw std::invalid_argument("fit must be pad or stretch, got '" + std::string(n) + "'");
}

const char* format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::kJpeg: return "JPEG";
    case ImageFormat::kPng: return "PNG";
    case ImageFormat::kGif: return "GIF";
    case ImageFormat::kBmp: return "BMP";
    case ImageFormat::kWebp: return "WebP";
    case ImageFormat::kTiff: return "TIFF";
    default: return "unknown";
  }
}

ImageFormat sniff_format(std::span<const uint8_t> b) {
  auto starts = [&](std::initializer_list<uint8_t> m, std::size_t at = 0) {
    if (b.size() < at + m.size()) return false;
    return std::equal(m.begin(), m.end(), b.begin() + static_cast<std::ptrdiff_t>(at));
  };
  if (starts({0xFF, 0xD8, 0xFF})) return ImageFormat::kJpeg;
  if (starts({0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A})) return ImageFormat::kPng;
  if (starts({'G', 'I', 'F', '8', '7', 'a'}) || starts({'G', 'I', 'F', '8', '9', 'a'})) return ImageFormat::kGif;
  if (starts({'R', 'I', 'F', 'F'}) && starts({'W', 'E', 'B', 'P'}, 8)) return ImageFormat::kWebp;
  if (starts({'I', 'I', 0x2A, 0x00}) || starts({'M', 'M', 0x00, 0x2A})) return ImageFormat::kTiff;
  // BMP: "BM" and a plausible DIB header size (12, 40, 52, 56, 64, 108, 124).
  if (starts({'B', 'M'}) && b.size() >= 18) {
    uint32_t dib = b[14] | (b[15] << 8) | (b[16] << 16) | (static_cast<uint32_t>(b[17]) << 24);
    if (dib == 12 || dib == 40 || dib == 52 || dib == 56 || dib == 64 || dib == 108 || dib == 124)
      return ImageFormat::kBmp;
  }
  return ImageFormat::kUnknown;
}

ImageFormat format_from_extension(std::string_view ext) {
  std::string e(ext);
  if (!e.empty() && e[0] == '.') e.erase(0, 1);
  for (auto& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (e == "jpg" || e == "jpeg" || e == "jpe" || e == "jfif") return ImageFormat::kJpeg;
  if (e == "png") return ImageFormat::kPng;
  if (e == "gif") return ImageFormat::kGif;
  if (e == "bmp" || e == "dib") return ImageFormat::kBmp;
  if (e == "webp") return ImageFormat::kWebp;
  if (e == "tif" || e == "tiff") return ImageFormat::kTiff;
  return ImageFormat::kUnknown;
}

namespace {

std::atomic<uint64_t> g_max_pixels{uint64_t{1} << 27};

uint32_t be16(const uint8_t* p) { return (uint32_t{p[0]} << 8) | p[1]; }
uint32_t be32(const uint8_t* p) { return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3]; }
uint32_t le32(const uint8_t* p) { return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24); }

// Width x height from the header when cheaply known; 0 when unknown.
uint64_t header_pixels(ImageFormat fmt, std::span<const uint8_t> b) {
  const std::size_t n = b.size();
  if (fmt == ImageFormat::kPng && n >= 24) return uint64_t{be32(&b[16])} * be32(&b[20]);
  if (fmt == ImageFormat::kBmp && n >= 26) {
    int64_t w = static_cast<int32_t>(le32(&b[18])), h = static_cast<int32_t>(le32(&b[22]));
    return static_cast<uint64_t>(std::abs(w)) * static_cast<uint64_t>(std::abs(h));
  }
  if (fmt == ImageFormat::kWebp && n >= 30) {
    // The first chunk after "RIFF" size "WEBP": lossy VP8, lossless VP8L or extended VP8X.
    const auto chunk = [&](const char* c) { return std::memcmp(&b[12], c, 4) == 0; };
    if (chunk("VP8X")) return uint64_t{(le32(&b[24]) & 0xFFFFFF) + 1} * ((le32(&b[26]) >> 8) + 1);
    if (chunk("VP8L") && b[20] == 0x2F) {
      const uint32_t bits = le32(&b[21]);
      return uint64_t{(bits & 0x3FFF) + 1} * (((bits >> 14) & 0x3FFF) + 1);
    }
    if (chunk("VP8 ") && b[23] == 0x9D && b[24] == 0x01 && b[25] == 0x2A)
      return uint64_t{(b[26] | (uint32_t{b[27]} << 8)) & 0x3FFF} * ((b[28] | (uint32_t{b[29]} << 8)) & 0x3FFF);
    return 0;
  }
  if (fmt == ImageFormat::kJpeg) {
    // Walk the marker segments up to the first SOFn (C0..CF but C4, C8, CC).
    std::size_t i = 2;
    while (i + 4 <= n) {
      if (b[i] != 0xFF) return 0;
      while (i < n && b[i] == 0xFF) ++i;
      if (i >= n) return 0;
      const uint8_t m = b[i++];
      if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) continue;  // no length
      if (m == 0xD9 || m == 0xDA) return 0;                  // EOI / SOS before SOF
      if (i + 2 > n) return 0;
      const uint32_t len = be16(&b[i]);
      if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
        if (i + 7 > n) return 0;
        return uint64_t{be16(&b[i + 3])} * be16(&b[i + 5]);
      }
      if (len < 2) return 0;
      i += len;
    }
  }
  return 0;
}

DecodeResult fail(std::string reason) {
  DecodeResult r;
  r.reason = std::move(reason);
  return r;
}

struct GifReader {
  std::span<const uint8_t> bytes;
  std::size_t pos = 0;
};

int gif_read(GifFileType* gif, GifByteType* out, int n) {
  auto* r = static_cast<GifReader*>(gif->UserData);
  if (n <= 0) return 0;
  std::size_t left = r->bytes.size() - r->pos;
  std::size_t k = std::min<std::size_t>(left, static_cast<std::size_t>(n));
  if (k) std::memcpy(out, r->bytes.data() + r->pos, k);
  r->pos += k;
  return static_cast<int>(k);
}

// 8-bit samples from 16-bit by rounding: round(v / 257) = (v + 128) / 257.
cv::Mat to_8bit(const cv::Mat& m, std::string& err) {
  if (m.depth() == CV_8U) return m;
  cv::Mat out(m.rows, m.cols, CV_MAKETYPE(CV_8U, m.channels()));
  const int n = m.cols * m.channels();
  if (m.depth() == CV_16U) {
    for (int y = 0; y < m.rows; ++y) {
      const uint16_t* s = m.ptr<uint16_t>(y);
      uint8_t* d = out.ptr<uint8_t>(y);
      for (int i = 0; i < n; ++i) d[i] = static_cast<uint8_t>((static_cast<uint32_t>(s[i]) + 128u) / 257u);
    }
    return out;
  }
  if (m.depth() == CV_32F) {  // assumed in [0, 1]
    for (int y = 0; y < m.rows; ++y) {
      const float* s = m.ptr<float>(y);
      uint8_t* d = out.ptr<uint8_t>(y);
      for (int i = 0; i < n; ++i) {
        float v = s[i];
        if (!(v == v)) v = 0;  // NaN
        d[i] = static_cast<uint8_t>(std::clamp(std::floor(v * 255.0f + 0.5f), 0.0f, 255.0f));
      }
    }
    return out;
  }
  err = "unsupported sample depth (OpenCV depth " + std::to_string(m.depth()) + ")";
  return {};
}

// Composites value c over black with alpha a: round(c * a / 255).
inline uint8_t over_black(uint32_t c, uint32_t a) { return static_cast<uint8_t>((c * a + 127u) / 255u); }

// OpenCV Mat (8-bit, 1-4 channels, BGR order) -> RGB Image.
bool mat_to_rgb(const cv::Mat& m, Image& img, std::string& err) {
  img.height = m.rows;
  img.width = m.cols;
  img.pixels.resize(img.bytes());
  const int ch = m.channels();
  for (int y = 0; y < m.rows; ++y) {
    const uint8_t* s = m.ptr<uint8_t>(y);
    uint8_t* d = img.at(y, 0);
    for (int x = 0; x < m.cols; ++x, d += 3, s += ch) {
      switch (ch) {
        case 1: d[0] = d[1] = d[2] = s[0]; break;
        case 2: d[0] = d[1] = d[2] = over_black(s[0], s[1]); break;
        case 3: d[0] = s[2]; d[1] = s[1]; d[2] = s[0]; break;
        case 4:
          d[0] = over_black(s[2], s[3]);
          d[1] = over_black(s[1], s[3]);
          d[2] = over_black(s[0], s[3]);
          break;
        default: err = "unsupported channel count " + std::to_string(ch); return false;
      }
    }
  }
  return true;
}

bool jpeg_has_eoi(std::span<const uint8_t> b) {
  // The end-of-image marker FF D9, allowing trailing padding/garbage after it.
  std::size_t n = b.size();
  std::size_t lo = n > 4096 ? n - 4096 : 0;
  for (std::size_t i = n; i-- > lo + 1;)
    if (b[i - 1] == 0xFF && b[i] == 0xD9) return true;
  return false;
}

}  // namespace

void set_max_decode_pixels(uint64_t pixels) { g_max_pixels.store(pixels); }
uint64_t max_decode_pixels() { return g_max_pixels.load(); }

DecodeResult decode_gif_first_frame(std::span<const uint8_t> bytes) {
  GifReader reader{bytes, 0};
  int err = 0;
  GifFileType* gif = DGifOpen(&reader, gif_read, &err);
  if (!gif) {
    const char* s = GifErrorString(err);
    return fail(std::string("GIF open failed: ") + (s ? s : "unknown error"));
  }
  struct Closer {
    GifFileType* g;
    ~Closer() {
      int e = 0;
      DGifCloseFile(g, &e);
    }
  } closer{gif};
  if (DGifSlurp(gif) != GIF_OK) {
    const char* s = GifErrorString(gif->Error);
    return fail(std::string("GIF decode failed: ") + (s ? s : "unknown error"));
  }
  if (gif->ImageCount < 1 || !gif->SavedImages) return fail("GIF has no frames");
  const SavedImage& frame = gif->SavedImages[0];
  const GifImageDesc& desc = frame.ImageDesc;
  int sw = gif->SWidth, sh = gif->SHeight;
  if (sw <= 0 || sh <= 0) {  // no logical screen: use the frame's extent
    sw = desc.Left + desc.Width;
    sh = desc.Top + desc.Height;
  }
  if (sw <= 0 || sh <= 0) return fail("GIF has an empty logical screen");
  if (static_cast<uint64_t>(sw) * static_cast<uint64_t>(sh) > g_max_pixels.load())
    return fail("GIF too large: " + std::to_string(sw) + " x " + std::to_string(sh));
  if (!frame.RasterBits || desc.Width <= 0 || desc.Height <= 0) return fail("GIF first frame is empty");
  const ColorMapObject* cmap = desc.ColorMap ? desc.ColorMap : gif->SColorMap;
  if (!cmap || !cmap->Colors || cmap->ColorCount <= 0) return fail("GIF has no colour map");
  int transparent = NO_TRANSPARENT_COLOR;
  GraphicsControlBlock gcb;
  if (DGifSavedExtensionToGCB(gif, 0, &gcb) == GIF_OK) transparent = gcb.TransparentColor;

  DecodeResult r;
  r.image.height = sh;
  r.image.width = sw;
  r.image.pixels.assign(r.image.bytes(), 0);  // black: transparent / uncovered
  for (int y = 0; y < desc.Height; ++y) {
    const int cy = desc.Top + y;
    if (cy < 0 || cy >= sh) continue;
    const GifByteType* row = frame.RasterBits + static_cast<std::size_t>(y) * desc.Width;
    for (int x = 0; x < desc.Width; ++x) {
      const int cx = desc.Left + x;
      if (cx < 0 || cx >= sw) continue;
      const int idx = row[x];
      if (idx == transparent || idx >= cmap->ColorCount) continue;
      uint8_t* d = r.image.at(cy, cx);
      d[0] = cmap->Colors[idx].Red;
      d[1] = cmap->Colors[idx].Green;
      d[2] = cmap->Colors[idx].Blue;
    }
  }
  r.ok = true;
  return r;
}

DecodeResult decode_image_bytes(std::span<const uint8_t> bytes, std::string_view name) {
  if (bytes.empty()) return fail("empty file");
  const ImageFormat fmt = sniff_format(bytes);
  std::string ext = std::filesystem::path(std::string(name)).extension().string();
  const ImageFormat claimed = format_from_extension(ext);
  if (fmt == ImageFormat::kUnknown) {
    if (claimed != ImageFormat::kUnknown)
      return fail(std::string("not a ") + format_name(claimed) + " file: content not recognised as an image");
    return fail("not an image: content not recognised");
  }
  std::string note;
  if (claimed != ImageFormat::kUnknown && claimed != fmt)
    note = std::string("extension says ") + format_name(claimed) + " but content is " + format_name(fmt);
  else if (claimed == ImageFormat::kUnknown)
    note = (ext.empty() ? std::string("no extension") : "extension '" + ext + "'") + ": recognised by content as " +
           format_name(fmt);

  const uint64_t claimed_pixels = header_pixels(fmt, bytes);
  // Every WebP file starts with a VP8, VP8L or VP8X header whose size we read;
  // without one, OpenCV might hand the bytes to another of its decoders (the
  // fuzzer found GDCM's DICOM reader asking for 4 GB).
  if (fmt == ImageFormat::kWebp && claimed_pixels == 0)
    return fail("not a WebP file: no VP8, VP8L or VP8X image header");
  // DICOM's signature sits at byte 128, beside any magic at byte 0: OpenCV
  // would pick its DICOM reader for such bytes whenever its own check of our
  // format fails. We read no DICOM, so such a file is refused here.
  if (fmt != ImageFormat::kPng && fmt != ImageFormat::kGif && bytes.size() >= 132 &&
      std::memcmp(&bytes[128], "DICM", 4) == 0)
    return fail(std::string("not a ") + format_name(fmt) + " file: it carries a DICOM signature");
  if (claimed_pixels > g_max_pixels.load())
    return fail(std::string(format_name(fmt)) + " too large: header claims " + std::to_string(claimed_pixels) +
                " pixels (limit " + std::to_string(g_max_pixels.load()) + ")");
  DecodeResult r;
  if (fmt == ImageFormat::kGif) {
    r = decode_gif_first_frame(bytes);
  } else {
    cv::Mat m;
    std::string png_error;
    if (fmt == ImageFormat::kPng) {
      // Our own libpng reader: the same pixels as OpenCV's, but libpng's
      // messages come back to us instead of going to stderr.
      if (!decode_png(bytes, g_max_pixels.load(), m, png_error))
        return fail("PNG decode failed (corrupt or truncated): " + png_error);
    } else {
      try {
        // A JPEG without its end-of-image marker (truncated) gets one appended:
        // libjpeg then ends the scan there and decodes the missing blocks as
        // flat (what its own memory source does at a premature end). Fed as is,
        // OpenCV would repeat a stale, uninitialised row buffer into the rows it
        // could not read, which is not deterministic.
        std::vector<uint8_t> patched;
        std::span<const uint8_t> input = bytes;
        const bool truncated_jpeg = fmt == ImageFormat::kJpeg && !jpeg_has_eoi(bytes);
        if (truncated_jpeg) {
          patched.reserve(bytes.size() + 2);
          patched.assign(bytes.begin(), bytes.end());
          patched.push_back(0xFF);
          patched.push_back(0xD9);
          input = patched;
        }
        cv::Mat buf(1, static_cast<int>(std::min<std::size_t>(input.size(), INT32_MAX)), CV_8U,
                    const_cast<uint8_t*>(input.data()));
        m = cv::imdecode(buf, cv::IMREAD_UNCHANGED);
        // OpenCV may leave rows it could not decode uninitialised (short BMP or
        // TIFF data). For those formats decode again into a zeroed image of the
        // same size and type, so that missing rows are black and deterministic.
        if ((fmt == ImageFormat::kBmp || fmt == ImageFormat::kTiff) && !m.empty()) {
          cv::Mat zeroed = cv::Mat::zeros(m.rows, m.cols, m.type());
          const uint8_t* before = zeroed.data;
          cv::imdecode(buf, cv::IMREAD_UNCHANGED, &zeroed);
          if (zeroed.data != before || zeroed.rows != m.rows || zeroed.cols != m.cols)
            return fail(std::string(format_name(fmt)) + " decode is not repeatable");
          m = zeroed;
        }
      } catch (const cv::Exception& e) {
        return fail(std::string(format_name(fmt)) + " decode failed: " + e.what());
      } catch (const std::exception& e) {
        return fail(std::string(format_name(fmt)) + " decode failed: " + e.what());
      }
    }
    if (m.empty() || m.rows <= 0 || m.cols <= 0)
      return fail(std::string(format_name(fmt)) + " decode failed (corrupt or truncated)");
    std::string err;
    cv::Mat m8 = to_8bit(m, err);
    if (m8.empty()) return fail(err);
    if (!mat_to_rgb(m8, r.image, err)) return fail(err);
    r.ok = true;
    if (fmt == ImageFormat::kJpeg && !jpeg_has_eoi(bytes)) {
      if (!note.empty()) note += "; ";
      note += "JPEG has no end-of-image marker (truncated?): kept, missing blocks decoded flat";
    }
  }
  if (r.ok) r.note = std::move(note);
  return r;
}

DecodeResult decode_image_file(const std::filesystem::path& path, std::vector<uint8_t>* kept) {
  std::error_code ec;
  auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) {
    if (std::filesystem::is_symlink(std::filesystem::symlink_status(path, ec))) return fail("broken symlink");
    return fail("cannot access: " + (ec ? ec.message() : std::string("no such file")));
  }
  if (std::filesystem::is_directory(st)) return fail("is a directory");
  if (!std::filesystem::is_regular_file(st)) return fail("not a regular file");
  std::vector<uint8_t> bytes;
  std::string error;
  if (!read_regular_file(path, bytes, error)) return fail(error);
  DecodeResult r = decode_image_bytes(bytes, path.filename().string());
  if (kept) *kept = std::move(bytes);
  return r;
}

}  // namespace rg::data
