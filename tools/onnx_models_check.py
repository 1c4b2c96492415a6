# SPDX-License-Identifier: Apache-2.0
"""Whole networks through `rg run`, against their expected outputs (docs/onnx.md).

1. The nine "light" model-zoo networks the onnx wheel ships
   (onnx/backend/test/data/light/), with the input ONNX's runner makes
   (generate_dummy_data(random=False): arange(n) / n) and its tolerance
   (rtol 1e-3, atol 1e-7).
2. torchvision ResNet-18, MobileNet-v2 and SqueezeNet-1.1 and the seed's DCGAN
   generator, with random weights, exported by torch.onnx.export (opset 17),
   against onnxruntime's outputs: max |diff| / max |ort| <= 1e-3.

Each on the backends given (default ref and cpu). Needs a venv with onnx,
onnxruntime, torch and torchvision (pip); the ctest suite does not.

3. With --engine-exports: the graphs tests/onnx/test_onnx_export exports (the
   conv-net op set, the Fashion-MNIST classifier) in onnxruntime.
4. With --generator-run RUN: `ralsgan export --onnx` of a trained run in
   onnxruntime, against the PNGs `ralsgan generate` writes (within 1 level).

Run as: /root/torchvenv/bin/python tools/onnx_models_check.py [--rg build/release/apps/rg/rg] [--backends ref,cpu]
        [--generator-run demo-run]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnx.numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def rg_run(rg, model, inputs, backend, work, batch=1):
    out = os.path.join(work, "out-" + backend)
    args = [rg, "run", model, "--backend", backend, "--out", out, "--overwrite", "--batch", str(batch)]
    for name, arr in inputs.items():
        path = os.path.join(work, name.replace("/", "_") + ".npy")
        np.save(path, arr)
        args += ["--input", f"{name}={path}"]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()
    return [np.load(p) for p in r.stdout.split()], ""


def light_models(rg, backends):
    import onnx.backend.test as bt
    light = os.path.join(os.path.dirname(bt.__file__), "data", "light")
    ok = True
    for f in sorted(os.listdir(light)):
        if not f.endswith(".onnx"):
            continue
        path = os.path.join(light, f)
        m = onnx.load(path, load_external_data=False)
        inits = {i.name for i in m.graph.initializer}
        feeds = {}
        for x in m.graph.input:
            if x.name in inits:
                continue
            shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in x.type.tensor_type.shape.dim)
            n = int(np.prod(shape))
            feeds[x.name] = (np.arange(n).reshape(shape) / n).astype(np.float32)
        want = onnx.numpy_helper.to_array(onnx.load_tensor(path.replace(".onnx", "_output_0.pb")))
        for be in backends:
            with tempfile.TemporaryDirectory() as work:
                got, err = rg_run(rg, path, feeds, be, work)
            if got is None:
                print(f"FAIL {f} on {be}: {err}")
                ok = False
                continue
            g = got[0].reshape(want.shape)
            bad = np.abs(g - want) > 1e-7 + 1e-3 * np.abs(want)
            print(f"{'PASS' if not bad.any() else 'FAIL'} {f} on {be}: max |diff| {np.abs(g - want).max():.3g}, "
                  f"{int(bad.sum())} of {want.size} outside rtol 1e-3")
            ok = ok and not bad.any()
    return ok


def exported_models(rg, backends):
    import onnxruntime as ort
    import torch
    import torchvision

    sys.path.insert(0, os.path.join(HERE, "golden"))
    import dcgan

    torch.manual_seed(0)
    nets = [
        ("resnet18", torchvision.models.resnet18(weights=None), (2, 3, 224, 224)),
        ("mobilenet_v2", torchvision.models.mobilenet_v2(weights=None), (2, 3, 224, 224)),
        ("squeezenet1_1", torchvision.models.squeezenet1_1(weights=None), (2, 3, 224, 224)),
        ("dcgan_generator_128", dcgan.Generator(128, 1.0, 128), (4, 128, 1, 1)),
    ]
    ok = True
    for name, net, shape in nets:
        net.eval()
        for mod in net.modules():  # non-trivial BatchNorm statistics
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
        x = torch.rand(*shape) * 2 - 1
        with tempfile.TemporaryDirectory() as work:
            path = os.path.join(work, name + ".onnx")
            torch.onnx.export(net, (x,), path, dynamo=False, opset_version=17, input_names=["x"],
                              output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
            want = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})[0]
            for be in backends:
                got, err = rg_run(rg, path, {"x": x.numpy()}, be, work, batch=shape[0])
                if got is None:
                    print(f"FAIL {name} on {be}: {err}")
                    ok = False
                    continue
                rel = float(np.abs(got[0] - want).max() / np.abs(want).max())
                print(f"{'PASS' if rel <= 1e-3 else 'FAIL'} {name} on {be}: max |diff| / max |ort| = {rel:.3g}")
                ok = ok and rel <= 1e-3
    return ok


def exported_generator(rg_dir, run):
    """`ralsgan export --onnx` of a trained run, in onnxruntime, against the PNGs
    `ralsgan generate` writes for the same latents: within 1 level."""
    import onnxruntime as ort
    from PIL import Image

    sys.path.insert(0, os.path.join(HERE, "golden"))
    import philox

    ralsgan = os.path.join(rg_dir, "..", "ralsgan", "ralsgan")
    with tempfile.TemporaryDirectory() as work:
        onnx_file = os.path.join(work, "g.onnx")
        subprocess.run([ralsgan, "export", "--checkpoint", run, "--onnx", onnx_file], check=True, capture_output=True)
        subprocess.run([ralsgan, "generate", "--checkpoint", run, "--out", os.path.join(work, "png"), "--count", "16",
                        "--seed", "0", "--backend", "cpu"], check=True, capture_output=True)
        sess = ort.InferenceSession(onnx_file, providers=["CPUExecutionProvider"])
        nz = sess.get_inputs()[0].shape[1]
        z = np.array([philox.latent_list(0, 0, i, nz) for i in range(16)], dtype=np.float32)
        y = sess.run(None, {"z": z})[0].astype(np.float64)
        pixels = np.clip(np.floor((y + 1) * 127.5 + 0.5), 0, 255).transpose(0, 2, 3, 1)
        worst = 0
        for i in range(16):
            png = np.asarray(Image.open(os.path.join(work, "png", f"image_{i:05d}.png")).convert("RGB"), dtype=np.float64)
            worst = max(worst, int(np.abs(png - pixels[i]).max()))
    print(f"{'PASS' if worst <= 1 else 'FAIL'} ralsgan export --onnx in onnxruntime against ralsgan generate's PNGs: "
          f"max {worst} level(s) apart")
    return worst <= 1


def engine_exports(test_binary):
    """Graphs the engine exports itself (tests/onnx/test_onnx_export.cpp: the
    conv-net op set and the Fashion-MNIST classifier) run by onnxruntime,
    against the engine's own output on ref: max |diff| / max |engine| <= 1e-4."""
    import onnxruntime as ort

    ok = True
    with tempfile.TemporaryDirectory() as work:
        env = dict(os.environ, RG_KEEP_EXPORTS=work)
        subprocess.run([test_binary, "--gtest_filter=OnnxExport.*RoundTrip*"], check=True, capture_output=True, env=env)
        for f in sorted(os.listdir(work)):
            if not f.endswith(".onnx"):
                continue
            base = os.path.join(work, f[:-5])
            sess = ort.InferenceSession(base + ".onnx", providers=["CPUExecutionProvider"])
            x = np.load(base + ".x.npy")
            want = np.load(base + ".y.npy")
            got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
            rel = float(np.abs(got - want).max() / np.abs(want).max())
            print(f"{'PASS' if rel <= 1e-4 else 'FAIL'} exported {f} in onnxruntime: max |diff| / max |engine| = {rel:.3g}")
            ok = ok and rel <= 1e-4
    return ok


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rg", default=os.path.join(HERE, "..", "build", "release", "apps", "rg", "rg"))
    p.add_argument("--backends", default="ref,cpu")
    p.add_argument("--skip-exported", action="store_true")
    p.add_argument("--generator-run", help="a ralsgan run folder: check `ralsgan export --onnx` against its PNGs")
    p.add_argument("--engine-exports", action="store_true",
                   help="also run the graphs tests/onnx/test_onnx_export exports in onnxruntime")
    a = p.parse_args()
    backends = a.backends.split(",")
    ok = light_models(a.rg, backends)
    if not a.skip_exported:
        ok = exported_models(a.rg, backends) and ok
    if a.engine_exports:
        test_binary = os.path.join(os.path.dirname(os.path.abspath(a.rg)), "..", "..", "tests", "onnx", "test_onnx_export")
        ok = engine_exports(test_binary) and ok
    if a.generator_run:
        ok = exported_generator(os.path.dirname(os.path.abspath(a.rg)), a.generator_run) and ok
    print("all match" if ok else "SOME FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
