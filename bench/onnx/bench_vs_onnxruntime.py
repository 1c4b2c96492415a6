# SPDX-License-Identifier: Apache-2.0
"""rg bench against onnxruntime (CPU execution provider) on the same models,
threads and inputs, interleaved (docs/onnx.md, bench/RESULTS.md).

Models: torchvision ResNet-18 (batch 16, 224 px) and ResNet-50 (batch 1),
and the seed's DCGAN generator (128 px, width 1, batch 64), random weights,
exported by torch.onnx.export (opset 17). Per model and runtime: the median
of `--reps` interleaved processes, each timing `--runs` runs after 2 warm-up
runs (rg: `rg bench --backend cpu`, its median; onnxruntime: the same in
Python), and each process's peak RSS (/usr/bin/time -f %M).

Run as: /root/torchvenv/bin/python bench/onnx/bench_vs_onnxruntime.py [--threads 2] [--reps 3] [--runs 10]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")

ORT_RUNNER = r"""
import json, sys, time
import numpy as np
import onnxruntime as ort
path, batch, threads, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
o = ort.SessionOptions()
o.intra_op_num_threads = threads
o.inter_op_num_threads = 1
s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
i = s.get_inputs()[0]
shape = [batch] + [d for d in i.shape[1:]]
x = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
for _ in range(2):
    s.run(None, {i.name: x})
ms = []
for _ in range(runs):
    t0 = time.perf_counter()
    s.run(None, {i.name: x})
    ms.append((time.perf_counter() - t0) * 1e3)
print(json.dumps({"median_ms": sorted(ms)[len(ms) // 2], "min_ms": min(ms)}))
"""


def export(work):
    import torch
    import torchvision

    sys.path.insert(0, os.path.join(ROOT, "tools", "golden"))
    import dcgan

    torch.manual_seed(0)
    out = []
    for name, net, shape in [
        ("resnet18", torchvision.models.resnet18(weights=None), (16, 3, 224, 224)),
        ("resnet50", torchvision.models.resnet50(weights=None), (1, 3, 224, 224)),
        ("dcgan_generator_128", dcgan.Generator(128, 1.0, 128), (64, 128, 1, 1)),
    ]:
        net.eval()
        path = os.path.join(work, name + ".onnx")
        torch.onnx.export(net, (torch.rand(*shape),), path, dynamo=False, opset_version=17, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
        out.append((name, path, shape[0]))
    return out


def timed(cmd):
    r = subprocess.run(["/usr/bin/time", "-f", "RSS_KB=%M"] + cmd, capture_output=True, text=True, check=True)
    rss = int([l for l in r.stderr.splitlines() if l.startswith("RSS_KB=")][-1].split("=")[1])
    return r.stdout, rss


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rg", default=os.path.join(ROOT, "build", "release", "apps", "rg", "rg"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--json", help="write the results here")
    p.add_argument("--models", default="resnet18,resnet50,dcgan_generator_128", help="which of the three")
    a = p.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as work:
        runner = os.path.join(work, "ort_runner.py")
        with open(runner, "w") as f:
            f.write(ORT_RUNNER)
        for name, path, batch in export(work):
            if name not in a.models.split(","):
                continue
            rg_ms, ort_ms, rg_rss, ort_rss = [], [], [], []
            for _ in range(a.reps):
                js = os.path.join(work, "rg.json")
                _, rss = timed([a.rg, "bench", path, "--backend", "cpu", "--batch", str(batch), "--threads",
                                str(a.threads), "--runs", str(a.runs), "--json", js, "--top", "0"])
                rg_ms.append(json.load(open(js))["results"][0]["median_ms"])
                rg_rss.append(rss)
                out, rss = timed([sys.executable, runner, path, str(batch), str(a.threads), str(a.runs)])
                ort_ms.append(json.loads(out)["median_ms"])
                ort_rss.append(rss)
            r = {"model": name, "batch": batch, "threads": a.threads, "rg_ms": statistics.median(rg_ms),
                 "ort_ms": statistics.median(ort_ms), "rg_peak_rss_mib": max(rg_rss) / 1024,
                 "ort_peak_rss_mib": max(ort_rss) / 1024, "rg_ms_all": rg_ms, "ort_ms_all": ort_ms}
            r["speedup"] = r["ort_ms"] / r["rg_ms"]
            print(f"{name} batch {batch}, {a.threads} threads: rg {r['rg_ms']:.1f} ms, onnxruntime {r['ort_ms']:.1f} ms "
                  f"({r['speedup']:.2f}x); peak RSS rg {r['rg_peak_rss_mib']:.0f} MiB, onnxruntime "
                  f"{r['ort_peak_rss_mib']:.0f} MiB", flush=True)
            results.append(r)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
