// SPDX-License-Identifier: Apache-2.0
// `ralsgan preprocess`'s cleaning flags and outputs (preprocess_clean.h).
#include "apps/ralsgan/preprocess_clean.h"

#include <cstdio>
#include <stdexcept>

#include "apps/data/clean/class_names.h"
#include "apps/data/clean/review_page.h"
#include "apps/ralsgan/image_io.h"
#include "apps/ralsgan/owned_folder.h"

namespace rg::app {

namespace fs = std::filesystem;

void add_clean_flags(Flags& f) {
  f.value(
       "detector", "MODEL",
       "crop to the subject: a YOLO detector, ONNX (YOLOv5 or YOLOv8 export) or Darknet .weights")
      .value("detector-config", "CFG", "the Darknet network (.cfg) for --detector's weights")
      .value("detector-names", "FILE", "class names, one per line (default: the 80 COCO classes)")
      .value("detector-size", "N", "the detector's input side; 0 = from the cfg or model", "0")
      .value("keep", "CLASS[,CLASS]", "classes that decide (names or indices; \"\" = every class)", "motorcycle")
      .value("min-score", "S", "lowest detection score kept", "0.25")
      .value("nms", "IOU", "per-class NMS overlap limit", "0.45")
      .value("crop", "largest|union|none",
             "crop to the largest kept box, their union, or not at all", "largest")
      .value("margin", "M", "grow the crop by M x the box's size on every side", "0.05")
      .value("min-area", "A", "ignore boxes smaller than A x the image's area", "0")
      .value("exclude", "FILE",
             "skip the images listed (one relative path per line; the review page saves one)")
      .toggle("dedupe", "keep one image of each group of near-duplicates (perceptual hash)")
      .value("dedupe-distance", "D", "near-duplicates differ in at most D of 64 hash bits", "6")
      .value("export-images", "DIR", "also write every cached image as a PNG (what training sees)")
      .value("review", "DIR",
             "write a review page (DIR/index.html) of every kept and skipped image");
}

std::unique_ptr<CleanSetup> make_clean_setup(const Flags& f, const fs::path& cache_dir) {
  auto s = std::make_unique<CleanSetup>();
  for (const char* flag : {"detector-config", "detector-names", "detector-size", "keep",
                           "min-score", "nms", "crop", "margin", "min-area"})
    if (f.has(flag) && !f.has("detector"))
      throw UsageError(std::string("preprocess: --") + flag + " needs --detector");
  s->active = f.has("detector") || f.has("exclude") || f.on("dedupe") || f.has("review");
  // The output folders are checked before any work: one holding a user's
  // files stops the command at once.
  if (f.has("export-images"))
    s->exported = std::make_unique<OwnedFolder>(f.str("export-images"), "export-images");
  if (f.has("review")) s->review = std::make_unique<OwnedFolder>(f.str("review"), "review");
  data::CleanOptions& o = s->options;
  o.dedupe = f.on("dedupe");
  o.dedupe_distance = int(f.integer("dedupe-distance", 0, 64));
  if (f.has("exclude")) {
    o.exclude_file = f.str("exclude");
    o.exclude = data::read_exclude_list(o.exclude_file);
  }
  if (f.has("review")) o.thumbnail_size = 256;
  if (f.has("detector")) {
    data::DetectorFiles files;
    files.model = f.str("detector");
    if (f.has("detector-config")) files.config = f.str("detector-config");
    if (f.has("detector-names")) files.names = f.str("detector-names");
    files.input_size = int(f.integer("detector-size", 0, 8192));
    s->detector = std::make_unique<data::Detector>(files);
    o.detector = s->detector.get();
    data::SelectOptions& sel = o.select;
    try {
      sel.keep = data::parse_keep_classes(f.str("keep"), s->detector->names());
      sel.crop = data::parse_crop_mode(f.str("crop"));
    } catch (const std::invalid_argument& e) {
      throw UsageError(std::string("preprocess: ") + e.what());
    }
    sel.min_score = float(f.real("min-score", 0.0, 1.0));
    sel.nms_iou = float(f.real("nms", 0.0, 1.0));
    sel.margin = float(f.real("margin", 0.0, 10.0));
    sel.min_area = float(f.real("min-area", 0.0, 1.0));
    const float floor = std::min(data::kCandidateFloor, sel.min_score);
    s->detections = std::make_unique<data::DetectionCache>(
        data::DetectionCache::file_for(cache_dir, s->detector->hash(), s->detector->input_size()),
        s->detector->hash(), s->detector->input_size(), floor);
    o.detections = s->detections.get();
    std::fprintf(stderr, "detect: %s\n", s->detector->describe().c_str());
    if (!s->detections->note().empty())
      std::fprintf(stderr, "detect: the detection cache %s: %s\n",
                   s->detections->file().string().c_str(), s->detections->note().c_str());
  }
  return s;
}

void finish_cleaning(CleanSetup& s, const data::BuildReport& r) {
  if (s.detections && s.detections->changed()) {
    try {
      s.detections->save();
    } catch (const std::exception& e) {  // a cache: the data set is still right
      std::fprintf(stderr, "detect: could not save the detection cache: %s\n", e.what());
    }
  }
  if (!s.active) return;
  if (s.detector)
    std::fprintf(stderr,
                 "detect: %zu images through the network, %zu from the detection cache (%s)\n",
                 r.network_runs, r.cached_detections, s.detections->file().string().c_str());
  if (r.excluded) std::fprintf(stderr, "exclude: %zu images skipped as listed\n", r.excluded);
  if (r.duplicates)
    std::fprintf(stderr, "dedupe: %zu near-duplicates %s\n", r.duplicates,
                 s.options.dedupe ? "dropped" : "flagged in the report (--dedupe drops them)");
  std::set<std::string> seen;
  for (const auto& im : r.images) seen.insert(im.path);
  size_t unmatched = 0;
  for (const std::string& name : s.options.exclude) unmatched += !seen.count(name);
  if (unmatched)
    std::fprintf(stderr, "exclude: %zu names in %s match no file of the folder\n", unmatched,
                 s.options.exclude_file.c_str());
}

void export_images(const data::Dataset& ds, OwnedFolder& out) {
  const int size = ds.image_size();
  for (size_t i = 0; i < ds.size(); ++i)
    out.write(ds.source(i) + ".png", encode_png(ds.image(i), size, size));
  out.finish();
  std::fprintf(stderr, "wrote %zu PNGs to %s\n", ds.size(), out.dir().string().c_str());
}

void write_review(const data::BuildReport& r, const std::string& cache_file, CleanSetup& s) {
  OwnedFolder& out = *s.review;
  for (const auto& [name, bytes] : data::review_page_files(r, cache_file, s.options.exclude))
    out.write(name, bytes);
  out.finish();
  std::fprintf(stderr, "review: open %s\n", (out.dir() / "index.html").string().c_str());
}

}  // namespace rg::app
