#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The review page in a real browser (Debian's headless Chromium): preprocess
# the detector test images with --review, let tests/review/harness.html read
# the page's counts, filter, mark two images and save, check what it saved,
# apply the saved list with --exclude, and take a screenshot of the page.
# Usage: check_review_page.sh RALSGAN SOURCE_DIR WORK_DIR
# Exits 77 (ctest: skipped) when no headless Chromium is installed.
set -euo pipefail
ralsgan=$1 src=$2 work=$3
browser=$(command -v chromium-headless-shell || command -v chromium || true)
if [ -z "$browser" ]; then
  echo "SKIPPED: no headless Chromium here (apt-get install chromium-headless-shell); the review page was not checked in a browser"
  exit 77
fi
rm -rf "$work"
mkdir -p "$work"
export XDG_CACHE_HOME="$work/xdg"
detect="$src/tests/data/files/detect"
"$ralsgan" preprocess --size 32 --input "$detect/images" --output "$work/c.rgcache" \
  --detector "$detect/tiny_v5.onnx" --review "$work/review" 2> "$work/preprocess.txt"
cp "$src/tests/review/harness.html" "$work/harness.html"
browse() {
  timeout 90 "$browser" --headless --no-sandbox --disable-gpu --no-first-run \
    --allow-file-access-from-files --virtual-time-budget=10000 "$@" 2>> "$work/browser.log"
}
browse --dump-dom "file://$work/harness.html?page=review/index.html&mark=two_red.png,wide_red.png" \
  > "$work/dom.html"
# The result lines, between <pre id="result"> and </pre>.
sed -n '/<pre id="result">/,/<\/pre>/p' "$work/dom.html" | sed 's/<pre id="result">//; s/<\/pre>.*//' \
  > "$work/result.txt"
cat "$work/result.txt"
expected="total=8
kept=5
skipped=3
duplicates=1
shown=8
marked=0
shown_skipped=3
shown_duplicates=1
shown_class_person=1
shown_score_0.5=5
cards_visible=8
boxes=15
crops=5
marked_after_clicks=2
marked_cards=2
download=exclude.txt
saved_line=# ralsgan exclude list for $detect/images
saved_line=two_red.png
saved_line=wide_red.png
saved_line=
textarea_matches=true
done=1"
if [ "$(cat "$work/result.txt")" != "$expected" ]; then
  echo "FAILED: the page did not behave as expected; wanted:"
  echo "$expected"
  diff <(echo "$expected") "$work/result.txt" || true
  exit 1
fi
# The saved list, applied by the next run.
sed -n 's/^saved_line=//p' "$work/result.txt" > "$work/exclude.txt"
"$ralsgan" preprocess --size 32 --input "$detect/images" --output "$work/c.rgcache" \
  --detector "$detect/tiny_v5.onnx" --exclude "$work/exclude.txt" 2> "$work/excluded.txt"
grep -q "exclude: 2 images skipped as listed" "$work/excluded.txt" || {
  echo "FAILED: the saved list was not applied"; cat "$work/excluded.txt"; exit 1; }
grep -q "wrote $work/c.rgcache: 3 images of 32 px" "$work/excluded.txt" || {
  echo "FAILED: wrong number of images after --exclude"; cat "$work/excluded.txt"; exit 1; }
# A screenshot of the page as a person sees it (kept under WORK_DIR).
browse --screenshot="$work/review.png" --window-size=1280,900 "file://$work/review/index.html" > /dev/null
head -c 8 "$work/review.png" | od -An -c | grep -q "P   N   G" || { echo "FAILED: no screenshot"; exit 1; }
echo "OK: the review page works in $("$browser" --version 2>/dev/null | head -1); screenshot $work/review.png"
