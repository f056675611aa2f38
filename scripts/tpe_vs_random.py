#!/usr/bin/env python3
"""TPE against random search on experiments/tpe.yaml (an MLP on digits).

For each sweep seed 1..5 it runs the tpe sweep (40 settings) and the same
search space as random search with 120 trials (random search's sample k
does not depend on the number of trials, so its first 40 trials are the
40-trial random search), and prints the best validation loss of each, and
the medians over the seeds. Runs one sweep at a time:

    python3 scripts/tpe_vs_random.py
"""
import csv
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = [1, 2, 3, 4, 5]


def best(binary, db, name, first):
    """The least final val_loss of the completed trials with index < first."""
    out = subprocess.run([binary, "export", name, "--db", db, "--format", "csv"],
                         check=True, capture_output=True, text=True).stdout
    vals = [float(r["final.val_loss"]) for r in csv.DictReader(out.splitlines())
            if r["state"] == "completed" and int(r["index"]) < first]
    return min(vals)


def run(binary, tmp, text, name):
    path = os.path.join(tmp, name + ".yaml")
    with open(path, "w") as f:
        f.write(text)
    db = os.path.join(tmp, name + ".db")
    subprocess.run([binary, "run", path, "--db", db, "--quiet", "--workers", "2"],
                   check=True, stdout=subprocess.DEVNULL)
    return db


def main():
    with open(os.path.join(ROOT, "experiments", "tpe.yaml")) as f:
        tpe = f.read()
    random = (tpe.replace("tpe:\n", "random:\n").replace("  trials: 40\n", "  trials: 120\n")
              .replace("  batch: 8\n", "").replace("  startup: 10\n", ""))
    assert "random:\n  trials: 120\n" in random
    with tempfile.TemporaryDirectory() as tmp:
        binary = os.path.join(tmp, "sweep")
        subprocess.run(["go", "build", "-o", binary, "./cmd/sweep"], cwd=ROOT, check=True)
        rows = []
        for seed in SEEDS:
            s = "seed: %d\n" % seed
            t = tpe.replace("seed: 1\n", s).replace("name: tpe-digits", "name: tpe-%d" % seed)
            r = random.replace("seed: 1\n", s).replace("name: tpe-digits", "name: random-%d" % seed)
            tdb = run(binary, tmp, t, "tpe-%d" % seed)
            rdb = run(binary, tmp, r, "random-%d" % seed)
            row = (seed, best(binary, tdb, "tpe-%d" % seed, 40),
                   best(binary, rdb, "random-%d" % seed, 40), best(binary, rdb, "random-%d" % seed, 120))
            rows.append(row)
            print("seed %d: best val_loss  tpe@40 %.4f  random@40 %.4f  random@120 %.4f" % row, flush=True)
        med = [statistics.median(r[i] for r in rows) for i in (1, 2, 3)]
        print("median over %d seeds: tpe@40 %.4f  random@40 %.4f  random@120 %.4f" % (len(rows), *med))


if __name__ == "__main__":
    sys.exit(main())
