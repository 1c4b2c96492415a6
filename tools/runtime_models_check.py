# SPDX-License-Identifier: Apache-2.0
"""Whole networks through the C runtime (docs/embedded.md), bit for bit.

For each model: `rg export` writes the plan; `rg run --backend ref` and
`rg_run_file` (x86, and the AArch64 build under qemu-aarch64 where present)
run it on the same random inputs; every output must be byte-identical to the
reference backend's. Models:

1. the nine "light" model-zoo networks the onnx wheel ships
   (onnx/backend/test/data/light/);
2. torchvision SqueezeNet-1.1, MobileNet-v2 (at 96 px) and ResNet-18 and the
   seed's DCGAN generator (128 px), random weights, exported by
   torch.onnx.export (opset 17);
3. the engine's own Fashion-MNIST classifier, exported to ONNX by
   tests/onnx/test_onnx_export (--engine-exports BINARY).

Prints one line per model (kernels, arena and plan bytes, ms per run on one
thread for ref and the runtime) and exits 1 if any output differs. Needs a
venv with onnx, torch and torchvision; the ctest suite does not.

Run as: /root/torchvenv/bin/python tools/runtime_models_check.py [--build build/release]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def check(name, model, build, work, qemu, batch=1, seed=0):
    rg = os.path.join(build, "apps", "rg", "rg")
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    r = run([rg, "export", model, "--out", os.path.join(d, "plan"), "--batch", str(batch)])
    if r.returncode != 0:
        print(f"{name:24s} NOT EXPORTED: {r.stderr.strip()}")
        return None
    stats = re.search(r"(\d+) bytes: (\d+) kernels, (\d+) bytes of weights; arena (\d+) bytes", r.stderr)
    import onnx
    m = onnx.load(model, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    rng = np.random.default_rng(seed)
    args = []
    for inp in m.graph.input:
        if inp.name in inits:
            continue
        dims = [d.dim_value if d.dim_value > 0 else batch for d in inp.type.tensor_type.shape.dim]
        x = rng.uniform(-1, 1, size=dims).astype(np.float32)
        path = os.path.join(d, re.sub(r"[^A-Za-z0-9_.-]", "_", inp.name) + ".npy")
        np.save(path, x)
        args += ["--input", f"{inp.name}={path}"]
    ref = run([rg, "run", model, "--backend", "ref", "--batch", str(batch), "--out",
               os.path.join(d, "ref"), "--overwrite"] + args, env=dict(os.environ, OMP_NUM_THREADS="1"))
    if ref.returncode != 0:
        print(f"{name:24s} rg run failed: {ref.stderr.strip()}")
        return False
    ok = True
    results = []
    runners = [("x86", [os.path.join(build, "runtime", "rg_run_file")])]
    aarch64 = os.path.join(build, "runtime-aarch64", "rg_run_file")
    if qemu and os.path.exists(aarch64):
        runners.append(("aarch64", [qemu, "-L", "/usr/aarch64-linux-gnu", aarch64]))
    for arch, cmd in runners:
        out = os.path.join(d, arch)
        r = run(cmd + [os.path.join(d, "plan", "model.rgplan"), "--out", out, "--overwrite"] + args)
        if r.returncode != 0:
            print(f"{name:24s} {arch} rg_run_file failed: {r.stderr.strip()}")
            return False
        for f in r.stdout.split():
            a = np.load(os.path.join(d, "ref", os.path.basename(f)))
            b = np.load(f)
            same = a.shape == b.shape and a.tobytes() == b.tobytes()
            ok = ok and same
            if not same:
                diff = np.abs(a.astype(np.float64) - b.astype(np.float64)).max() if a.shape == b.shape else -1
                results.append(f"{arch} {os.path.basename(f)} DIFFERS (max |diff| {diff:.3g})")
        results.append(f"{arch} identical" if ok else "")
    s = stats.groups() if stats else ("?",) * 4
    print(f"{name:24s} {'OK ' if ok else 'BAD'} kernels {s[1]:>4s} plan {s[0]:>10s} B arena {s[3]:>10s} B  "
          + "; ".join(x for x in results if x))
    return ok


def light_models():
    import onnx.backend.test as bt
    light = os.path.join(os.path.dirname(bt.__file__), "data", "light")
    return [(f[len("light_"):-len(".onnx")], os.path.join(light, f)) for f in sorted(os.listdir(light))
            if f.endswith(".onnx")]


def torch_models(work):
    import torch
    import torchvision
    sys.path.insert(0, os.path.join(HERE, "golden"))
    import dcgan
    torch.manual_seed(0)
    nets = [
        ("squeezenet1_1", torchvision.models.squeezenet1_1(weights=None, num_classes=10), (1, 3, 96, 96)),
        ("mobilenet_v2_96", torchvision.models.mobilenet_v2(weights=None, num_classes=10), (1, 3, 96, 96)),
        ("resnet18_64", torchvision.models.resnet18(weights=None, num_classes=10), (1, 3, 64, 64)),
        ("dcgan_generator_128", dcgan.Generator(128, 1.0, 128), (1, 128, 1, 1)),
    ]
    out = []
    for name, net, shape in nets:
        net.eval()
        for mod in net.modules():  # batch norm statistics that are not the identity
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
        path = os.path.join(work, name + ".onnx")
        torch.onnx.export(net, torch.zeros(shape), path, opset_version=17, dynamo=False,
                          input_names=["x"], output_names=["y"])
        out.append((name, path))
    return out


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--build", default=os.path.join(HERE, "..", "build", "release"))
    a.add_argument("--engine-exports", help="tests/onnx/test_onnx_export binary (writes the classifier)")
    a.add_argument("--keep", help="work folder to keep")
    a.add_argument("--only", help="regex of model names")
    a = a.parse_args()
    work = a.keep or tempfile.mkdtemp(prefix="rt-models-")
    os.makedirs(work, exist_ok=True)
    qemu = shutil.which("qemu-aarch64")
    models = light_models() + torch_models(work)
    if a.engine_exports:
        r = run([a.engine_exports, "--gtest_filter=*Classifier*"], env=dict(os.environ, RG_KEEP_EXPORTS=work))
        cls = os.path.join(work, "classifier.onnx")
        if os.path.exists(cls):
            models.append(("classifier", cls))
    failed = []
    for name, path in models:
        if a.only and not re.search(a.only, name):
            continue
        ok = check(name, path, a.build, work, qemu)
        if ok is False:
            failed.append(name)
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    print("all identical" if not failed else "DIFFERENT: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
