"""Writes golden.json: the learning rate of every update over 1,000 updates
for each gradsweep schedule, as torch.optim.lr_scheduler (PyTorch 1.13)
computes it: lr[k] is optimizer.param_groups[0]['lr'] at update k, with one
scheduler.step() (or step(monitored[k]) for plateau) after each update.
Regenerate from the repository root with

    OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 plugins/schedules/testdata/gen_golden.py \
        > plugins/schedules/testdata/golden.json

(Debian's python3-torch). The Go test (TestAgainstPyTorch) replays each case."""
import json
import math

import torch
from torch.optim import lr_scheduler as S

STEPS = 1000


def monitored_loss():
    """A loss that falls in bursts and stalls in between, with a little
    deterministic jitter: long enough stalls trigger reductions, short ones
    do not, and improvements inside cooldowns are exercised too."""
    out = []
    level = 1.0
    for k in range(STEPS):
        if k % 40 < 12:  # a burst of improvement
            level *= 0.97
        jitter = 0.002 * (((k * 37) % 11) / 11.0 - 0.5)
        out.append(level * (1 + jitter))
    return out


def monitored_accuracy():
    """An accuracy-like series that rises in steps (for mode max)."""
    return [min(0.99, 0.3 + 0.05 * (k // 25) ** 0.5 + 0.001 * ((k * 13) % 7)) for k in range(STEPS)]


def plain(name, opts):
    """A factory for the torch scheduler matching gradsweep schedule name
    with gradsweep options opts, over total steps total."""
    def make(opt, total):
        o = dict(opts)
        if name == "constant":
            return S.LambdaLR(opt, lambda _: 1.0)
        if name == "step":
            return S.StepLR(opt, step_size=o["step_size"], gamma=o.get("gamma", 0.1))
        if name == "multistep":
            return S.MultiStepLR(opt, milestones=o["milestones"], gamma=o.get("gamma", 0.1))
        if name == "exponential":
            return S.ExponentialLR(opt, gamma=o["gamma"])
        if name == "cosine":
            return S.CosineAnnealingLR(opt, T_max=o["t_max"], eta_min=o.get("eta_min", 0))
        if name == "linear":
            return S.LinearLR(opt, start_factor=o.get("start_factor", 1.0 / 3),
                              end_factor=o.get("end_factor", 1.0), total_iters=o.get("total_iters", 5))
        if name == "onecycle":
            return S.OneCycleLR(opt, max_lr=o["max_lr"], total_steps=total, pct_start=o.get("pct_start", 0.3),
                                anneal_strategy=o.get("anneal_strategy", "cos"), cycle_momentum=False,
                                div_factor=o.get("div_factor", 25.0), final_div_factor=o.get("final_div_factor", 1e4),
                                three_phase=o.get("three_phase", False))
        if name == "plateau":
            return S.ReduceLROnPlateau(opt, mode=o.get("mode", "min"), factor=o.get("factor", 0.1),
                                       patience=o.get("patience", 10), threshold=o.get("threshold", 1e-4),
                                       threshold_mode=o.get("threshold_mode", "rel"), cooldown=o.get("cooldown", 0),
                                       min_lr=o.get("min_lr", 0), eps=o.get("eps", 1e-8))
        raise ValueError(name)
    return make


def run(name, opts, base, warmup=None, monitored=None):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base)
    make = plain(name, opts)
    lrs = []
    if warmup is None:
        sched = make(opt, STEPS)
        for k in range(STEPS):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            if name == "plateau":
                sched.step(monitored[k])
            else:
                sched.step()
        return lrs
    n, f = warmup["iterations"], warmup["start_factor"]
    if name != "plateau":
        # LinearLR for the first n steps, then the schedule: SequentialLR
        warm = S.LinearLR(opt, start_factor=f, end_factor=1.0, total_iters=n)
        sched = S.SequentialLR(opt, [warm, make(opt, STEPS - n)], milestones=[n])
        for k in range(STEPS):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return lrs
    # torch 1.13's SequentialLR cannot hold ReduceLROnPlateau (it would call
    # step(0) on it, passing 0 as the metric). gradsweep's warmup does what
    # SequentialLR does for the others: LinearLR for n steps, then at step n
    # the lr goes back to the base rate and the schedule starts afresh; the
    # monitored values of the n warmup steps are not seen by the plateau rule.
    warm = S.LinearLR(opt, start_factor=f, end_factor=1.0, total_iters=n)
    sched = None
    for k in range(STEPS):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if k + 1 < n:
            warm.step()
        elif k + 1 == n:
            opt.param_groups[0]["lr"] = base
            sched = make(opt, STEPS - n)
        else:
            sched.step(monitored[k])
    return lrs


CASES = [
    ("constant", {}, 0.1, None),
    ("step", {"step_size": 30}, 0.1, None),
    ("step", {"step_size": 7, "gamma": 0.5}, 0.05, None),
    ("step", {"step_size": 1, "gamma": 0.99}, 0.3, None),
    ("multistep", {"milestones": [100, 300, 600]}, 0.1, None),
    ("multistep", {"milestones": [50, 50, 400], "gamma": 0.5}, 0.1, None),
    ("multistep", {"milestones": [700, 200], "gamma": 0.3}, 1.0, None),
    ("multistep", {"milestones": [0, 5, 5], "gamma": 0.5}, 0.1, None),
    ("exponential", {"gamma": 0.99}, 0.1, None),
    ("exponential", {"gamma": 0.999}, 0.7, None),
    ("exponential", {"gamma": 1.001}, 0.01, None),
    ("cosine", {"t_max": 1000}, 0.1, None),
    ("cosine", {"t_max": 100, "eta_min": 0.001}, 0.1, None),
    ("cosine", {"t_max": 7, "eta_min": 0.01}, 0.05, None),
    ("cosine", {"t_max": 1}, 0.1, None),
    ("linear", {}, 0.1, None),
    ("linear", {"start_factor": 0.1, "end_factor": 1.0, "total_iters": 100}, 0.1, None),
    ("linear", {"start_factor": 1.0, "end_factor": 0.01, "total_iters": 500}, 0.2, None),
    ("onecycle", {"max_lr": 1.0}, 0.1, None),
    ("onecycle", {"max_lr": 0.5, "pct_start": 0.25, "anneal_strategy": "linear"}, 0.1, None),
    ("onecycle", {"max_lr": 2.0, "three_phase": True, "div_factor": 10.0, "final_div_factor": 100.0}, 0.1, None),
    ("onecycle", {"max_lr": 0.3, "pct_start": 0.0}, 0.1, None),
    ("plateau", {}, 0.1, None),
    ("plateau", {"patience": 5, "cooldown": 3, "factor": 0.5}, 0.1, None),
    ("plateau", {"patience": 0, "threshold": 0.0, "min_lr": 0.0005}, 0.1, None),
    ("plateau", {"mode": "max", "threshold_mode": "abs", "threshold": 0.01, "patience": 2, "cooldown": 2,
                 "min_lr": 0.002}, 0.1, None),
    ("plateau", {"factor": 0.1, "patience": 1, "eps": 0.001}, 0.1, None),
    ("constant", {}, 0.1, {"iterations": 10, "start_factor": 0.25}),
    ("step", {"step_size": 30}, 0.1, {"iterations": 50, "start_factor": 0.1}),
    ("multistep", {"milestones": [100, 300]}, 0.1, {"iterations": 20, "start_factor": 0.5}),
    ("exponential", {"gamma": 0.995}, 0.1, {"iterations": 5, "start_factor": 1.0 / 3}),
    ("cosine", {"t_max": 950, "eta_min": 0.001}, 0.1, {"iterations": 50, "start_factor": 0.01}),
    ("linear", {"start_factor": 1.0, "end_factor": 0.1, "total_iters": 300}, 0.1, {"iterations": 100, "start_factor": 0.1}),
    ("onecycle", {"max_lr": 1.0}, 0.1, {"iterations": 100, "start_factor": 0.5}),
    ("plateau", {"patience": 5, "cooldown": 3, "factor": 0.5}, 0.1, {"iterations": 30, "start_factor": 0.2}),
    ("step", {"step_size": 3, "gamma": 0.9}, 0.1, {"iterations": 1, "start_factor": 0.5}),
]


def main():
    loss, acc = monitored_loss(), monitored_accuracy()
    cases = []
    for name, opts, base, warmup in CASES:
        mon = None
        if name == "plateau":
            mon = acc if opts.get("mode") == "max" else loss
        lrs = run(name, opts, base, warmup, mon)
        assert len(lrs) == STEPS and all(math.isfinite(x) for x in lrs)
        cases.append({"schedule": name, "options": opts, "base": base, "warmup": warmup,
                      "monitored": mon, "lr": lrs})
    json.dump({"torch": torch.__version__, "steps": STEPS, "cases": cases}, __import__("sys").stdout,
              separators=(",", ":"))
    print()


if __name__ == "__main__":
    main()
