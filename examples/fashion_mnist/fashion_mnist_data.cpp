// SPDX-License-Identifier: Apache-2.0
#include "fashion_mnist_data.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include "classifier_model.h"

namespace rg::classifier {
namespace {

// An IDX file: magic 00 00 <type> <rank>, `rank` big-endian u32 sizes, then the
// elements. gzread reads gzip and plain files alike.
class IdxFile {
 public:
  explicit IdxFile(std::string path)
      : path_(std::move(path)), gz_(gzopen(path_.c_str(), "rb"), &gzclose) {
    if (!gz_) throw std::runtime_error(path_ + ": cannot open");
  }

  // Reads the header and checks it is an unsigned-byte array of rank dims.size()
  // whose sizes are dims (0: any); returns the sizes.
  std::vector<uint32_t> header(const std::vector<uint32_t>& dims) {
    uint8_t magic[4];
    read(magic, 4, "header");
    if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] != dims.size())
      fail("expected an IDX array of unsigned bytes with " + std::to_string(dims.size()) +
           " dimensions");
    std::vector<uint32_t> got(dims.size());
    for (size_t i = 0; i < dims.size(); ++i) {
      uint8_t b[4];
      read(b, 4, "header");
      got[i] = uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
      if (dims[i] != 0 && got[i] != dims[i])
        fail("dimension " + std::to_string(i) + " is " + std::to_string(got[i]) + ", expected " +
             std::to_string(dims[i]));
    }
    return got;
  }

  std::vector<uint8_t> elements(size_t count) {
    std::vector<uint8_t> v(count);
    read(v.data(), count, "data");
    return v;
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(path_ + ": " + what);
  }

 private:
  void read(uint8_t* dst, size_t n, const char* part) {
    while (n > 0) {
      const unsigned chunk = unsigned(std::min<size_t>(n, size_t(1) << 30));
      const int got = gzread(gz_.get(), dst, chunk);
      if (got <= 0) fail(std::string("truncated or unreadable ") + part);
      dst += got, n -= size_t(got);
    }
  }

  std::string path_;
  std::unique_ptr<gzFile_s, decltype(&gzclose)> gz_;
};

std::string find_file(const std::string& dir, const std::string& stem) {
  const std::filesystem::path plain = std::filesystem::path(dir) / stem;
  if (std::filesystem::exists(plain)) return plain.string();
  return plain.string() + ".gz";
}

}  // namespace

Split read_split(const std::string& dir, bool train) {
  const std::string prefix = train ? "train" : "t10k";
  IdxFile images(find_file(dir, prefix + "-images-idx3-ubyte"));
  const uint32_t n = images.header({0, kImageSize, kImageSize})[0];
  Split s;
  s.images = images.elements(size_t(n) * kImageSize * kImageSize);
  IdxFile labels(find_file(dir, prefix + "-labels-idx1-ubyte"));
  labels.header({n});
  s.labels = labels.elements(n);
  for (size_t i = 0; i < s.labels.size(); ++i)
    if (s.labels[i] >= kClasses)
      labels.fail("label " + std::to_string(s.labels[i]) + " at " + std::to_string(i) +
                  " is not a class 0..9");
  return s;
}

}  // namespace rg::classifier
