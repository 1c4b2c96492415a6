#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The .deb as a user gets it: builds it (the `package` preset: no CUDA,
# baseline x86-64, no tests; `cpack -G DEB`), unpacks it into a scratch root
# (dpkg-deb -x: nothing outside the scratch folder is touched, no root
# needed), checks its Depends, man pages and files, and runs from that root
# `ralsgan --version`, a 20-step demo, `rg --version` and `rg_run_file` on a
# plan that `ralsgan export` of the demo wrote. tools/test.sh runs it in CI.
# Usage: tools/test_package.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset package -G Ninja >/dev/null
cmake --build --preset package -j "$(nproc)"
rm -f build/package/ralsgan_*.deb
(cd build/package && cpack -G DEB >/dev/null)
deb=$(ls build/package/ralsgan_*.deb)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$deb" "$work/root"
depends=$(dpkg-deb -f "$deb" Depends)
echo "$deb ($(du -k "$deb" | cut -f1) KiB): Depends: $depends"
for want in libdnnl libpng16 zlib1g libopencv-imgcodecs libprotobuf libstdc++6; do
  grep -q "$want" <<< "$depends" || { echo "the package's Depends lacks $want" >&2; exit 1; }
done
if grep -qi cuda <<< "$depends"; then echo "the package depends on CUDA" >&2; exit 1; fi
r="$work/root/usr"
for f in bin/ralsgan bin/rg bin/rg_run_file share/man/man1/ralsgan.1 share/man/man1/rg.1 share/man/man1/rg_run_file.1 \
         share/doc/ralsgan/LICENSE share/doc/ralsgan/NOTICE share/doc/ralsgan/docs/embedded.md \
         include/rg_runtime/rg_runtime.h lib/x86_64-linux-gnu/cmake/rg_runtime/rg_runtimeConfig.cmake; do
  test -e "$r/$f" || { echo "the package has no $f" >&2; exit 1; }
done
grep -q "^\.SH RALSGAN TRAIN" "$r/share/man/man1/ralsgan.1" || { echo "ralsgan.1 has no train section" >&2; exit 1; }
"$r/bin/ralsgan" --version
"$r/bin/rg" --version | head -n 1
(cd "$work" && "$r/bin/ralsgan" demo --steps 20 --count 16 --out "$work/demo" > "$work/demo.log" 2>&1) ||
  { tail -n 20 "$work/demo.log"; exit 1; }
test -f "$work/demo/samples/latest.png" || { echo "the demo wrote no samples/latest.png" >&2; exit 1; }
"$r/bin/ralsgan" export --checkpoint "$work/demo" --out "$work/plan" 2> /dev/null
# A zero latent vector as a .npy (version 1.0, header padded to 128 bytes).
{ printf '\x93NUMPY\x01\x00\x76\x00'; printf "%-117s\n" "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 128), }"
  head -c 512 /dev/zero; } > "$work/z.npy"
"$r/bin/rg_run_file" "$work/plan/model.rgplan" --input z="$work/z.npy" --out "$work/out" > /dev/null
test -s "$work/out/images.npy" || { echo "rg_run_file wrote no images.npy" >&2; exit 1; }
echo "package: unpacked into a scratch root; --version, a 20-step demo, export, rg_run_file: OK"
