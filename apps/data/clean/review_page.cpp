// SPDX-License-Identifier: Apache-2.0
// The review page's HTML, script and data (review_page.h).
#include "apps/data/clean/review_page.h"

#include <algorithm>
#include <cstdio>

#include "engine/io/json.h"

namespace rg::data {

namespace {

// JSON text that is safe inside <script>: no "</" can end the element. A '<'
// can only be inside a string, where \u003c means the same.
std::string script_json(const io::Json& j) {
  std::string out;
  for (const char c : io::dump_compact(j)) {
    if (c == '<') out += "\\u003c";
    else out += c;
  }
  return out;
}

io::Json num(double v) {
  return io::json_number(v, 5);
}

const char* kPage = R"PAGE(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>ralsgan review</title>
<style>
body{font:14px system-ui,sans-serif;margin:0;background:#f4f4f4;color:#222}
header{position:sticky;top:0;background:#fff;border-bottom:1px solid #ccc;padding:8px 12px;z-index:2}
header label{margin-right:14px}
.counts span{font-weight:600}
#grid{display:flex;flex-wrap:wrap;gap:8px;padding:12px}
.card{width:180px;background:#fff;border:2px solid #ddd;border-radius:4px;cursor:pointer;user-select:none}
.card.skipped{background:#fbeaea}
.card.marked{border-color:#d00;opacity:.55}
.card.dup .pic::after{content:"near-duplicate";position:absolute;right:2px;top:2px;background:#f90;color:#fff;font-size:11px;padding:0 3px}
.pic{position:relative;width:172px;height:172px;margin:4px;background:#333}
.pic img{position:absolute;left:0;top:0}
.box{position:absolute;border:2px solid #0c0;box-sizing:border-box}
.box.unused{border:1px dashed #fc0}
.crop{position:absolute;border:2px dashed #0af;box-sizing:border-box}
.cap{padding:2px 6px 6px;font-size:12px;word-break:break-all}
.reason{color:#a00}
textarea{width:100%;height:4em;font:12px monospace}
</style></head><body>
<header>
<div class="counts"><span id="count-total"></span> images: <span id="count-kept"></span> kept,
<span id="count-skipped"></span> skipped, <span id="count-duplicates"></span> near-duplicates;
showing <span id="count-shown"></span>; <span id="count-marked"></span> marked to exclude</div>
<label>Show <select id="status"><option value="all">all</option><option value="kept">kept</option>
<option value="skipped">skipped</option><option value="dup">near-duplicates</option>
<option value="marked">marked</option></select></label>
<label>Class <select id="class"><option value="">any</option></select></label>
<label>Score at least <input id="min-score" type="number" min="0" max="1" step="0.05" value="0"></label>
<button id="save">Save exclude list</button>
<div>Boxes: <span style="color:#0a0">green</span> decide, <span style="color:#b90">yellow dashed</span> another class or too small,
<span style="color:#08c">blue dashed</span> the crop. Click an image to mark it. Save writes exclude.txt for <code>ralsgan preprocess --exclude</code>;
the list is also here to copy: <textarea id="exclude-text" readonly></textarea></div>
</header>
<div id="grid"></div>
<script>
const DATA = @DATA@;
const grid = document.getElementById('grid');
const marked = new Set(DATA.images.filter(im => im.x).map(im => im.n));
const classSelect = document.getElementById('class');
const seen = new Set(); DATA.images.forEach(im => im.d.forEach(d => seen.add(d[0])));
[...seen].sort((a, b) => a - b).forEach(i => { const o = document.createElement('option'); o.value = String(i); o.textContent = DATA.classes[i]; classSelect.appendChild(o); });
function pct(v) { return (100 * v).toFixed(3) + '%'; }
const cards = DATA.images.map(im => {
  const card = document.createElement('div');
  card.className = 'card' + (im.k ? '' : ' skipped') + (im.dup ? ' dup' : '');
  const pic = document.createElement('div'); pic.className = 'pic';
  const s = 172 / Math.max(im.tw, im.th), w = im.tw * s, h = im.th * s;
  const frame = document.createElement('div');
  frame.style.cssText = 'position:absolute;left:' + (172 - w) / 2 + 'px;top:' + (172 - h) / 2 + 'px;width:' + w + 'px;height:' + h + 'px';
  if (im.t) { const img = document.createElement('img'); img.src = im.t; img.width = w; img.height = h; img.alt = im.n; frame.appendChild(img); }
  const place = (el, b) => { el.style.left = pct(b[0] / im.w); el.style.top = pct(b[1] / im.h); el.style.width = pct((b[2] - b[0]) / im.w); el.style.height = pct((b[3] - b[1]) / im.h); frame.appendChild(el); };
  im.d.forEach(d => { const b = document.createElement('div'); b.className = 'box' + (d[6] ? '' : ' unused'); b.title = DATA.classes[d[0]] + ' ' + d[1]; place(b, d.slice(2, 6)); });
  if (im.c) { const c = document.createElement('div'); c.className = 'crop'; place(c, im.c); }
  pic.appendChild(frame); card.appendChild(pic);
  const cap = document.createElement('div'); cap.className = 'cap';
  const name = document.createElement('div'); name.textContent = im.n; cap.appendChild(name);
  const why = document.createElement('div');
  if (!im.k) { why.className = 'reason'; why.textContent = im.r; }
  else if (im.d.length) { const best = im.d.find(d => d[6]) || im.d[0]; why.textContent = DATA.classes[best[0]] + ' ' + best[1].toFixed(2); }
  if (im.dup) why.textContent += (why.textContent ? '; ' : '') + 'like ' + im.dup;
  cap.appendChild(why); card.appendChild(cap);
  card.addEventListener('click', () => { if (marked.has(im.n)) marked.delete(im.n); else marked.add(im.n); update(); });
  grid.appendChild(card);
  return card;
});
function best(im, cls) {
  let s = -1;
  im.d.forEach(d => { if (cls === '' || d[0] === Number(cls)) s = Math.max(s, d[1]); });
  return s;
}
function update() {
  const status = document.getElementById('status').value, cls = classSelect.value;
  const minScore = Number(document.getElementById('min-score').value) || 0;
  let shown = 0;
  DATA.images.forEach((im, i) => {
    let show = status === 'all' || (status === 'kept' && im.k) || (status === 'skipped' && !im.k) ||
      (status === 'dup' && im.dup) || (status === 'marked' && marked.has(im.n));
    if (show && (cls !== '' || minScore > 0)) show = best(im, cls) >= minScore && (cls === '' || best(im, cls) >= 0);
    cards[i].style.display = show ? '' : 'none';
    cards[i].classList.toggle('marked', marked.has(im.n));
    if (show) ++shown;
  });
  const kept = DATA.images.filter(im => im.k).length;
  document.getElementById('count-total').textContent = DATA.images.length;
  document.getElementById('count-kept').textContent = kept;
  document.getElementById('count-skipped').textContent = DATA.images.length - kept;
  document.getElementById('count-duplicates').textContent = DATA.images.filter(im => im.dup).length;
  document.getElementById('count-shown').textContent = shown;
  document.getElementById('count-marked').textContent = marked.size;
  document.getElementById('exclude-text').value = excludeText();
}
function excludeText() {
  const names = [...marked].filter(n => !n.includes('\n')).sort();
  return '# ralsgan exclude list for ' + DATA.folder.replace(/[\r\n]/g, ' ') + '\n' + names.map(n => n + '\n').join('');
}
['status', 'class', 'min-score'].forEach(id => { document.getElementById(id).addEventListener('change', update); document.getElementById(id).addEventListener('input', update); });
document.getElementById('save').addEventListener('click', () => {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([excludeText()], {type: 'text/plain'}));
  a.download = 'exclude.txt';
  document.body.appendChild(a); a.click(); a.remove();
});
update();
</script></body></html>
)PAGE";

}  // namespace

std::map<std::string, std::vector<uint8_t>> review_page_files(
    const BuildReport& r, const std::string& cache_file, const std::set<std::string>& excluded) {
  std::map<std::string, std::vector<uint8_t>> files;
  io::Json data = io::Json::object();
  data["folder"] = io::json_text(r.folder);
  data["cache"] = io::json_text(cache_file);
  io::Json classes = io::Json::array(), images = io::Json::array();
  for (const std::string& c : r.class_names) classes.push_back(io::json_text(c));
  for (size_t i = 0; i < r.images.size(); ++i) {
    const ImageRecord& im = r.images[i];
    std::string thumb;
    if (!im.thumbnail.empty()) {
      char name[32];
      std::snprintf(name, sizeof name, "thumbs/%06zu.jpg", i);
      thumb = name;
      files[thumb] = im.thumbnail;
    }
    // Short keys: the page holds one of these per image (see kPage's script).
    io::Json e = io::Json::object();
    e["n"] = io::json_text(im.path);
    e["k"] = im.kept ? 1 : 0;
    e["r"] = io::json_text(im.reason);
    e["t"] = thumb;
    e["w"] = std::max(1, im.width);
    e["h"] = std::max(1, im.height);
    e["tw"] = std::max(1, im.thumb_width);
    e["th"] = std::max(1, im.thumb_height);
    io::Json dets = io::Json::array();
    for (size_t k = 0; k < im.detections.size(); ++k) {
      const Detection& d = im.detections[k];
      dets.push_back({d.cls, num(d.score), num(d.box.x0), num(d.box.y0), num(d.box.x1), num(d.box.y1),
                      im.used[k] ? 1 : 0});
    }
    e["d"] = std::move(dets);
    e["c"] = im.cropped ? io::Json{im.crop.x0, im.crop.y0, im.crop.x1, im.crop.y1} : io::Json(nullptr);
    e["dup"] = io::json_text(im.duplicate_of);
    e["x"] = excluded.count(im.path) ? 1 : 0;
    images.push_back(std::move(e));
  }
  data["classes"] = std::move(classes);
  data["images"] = std::move(images);
  std::string page = kPage;
  page.replace(page.find("@DATA@"), 6, script_json(data));
  files["index.html"] = std::vector<uint8_t>(page.begin(), page.end());
  return files;
}

}  // namespace rg::data
