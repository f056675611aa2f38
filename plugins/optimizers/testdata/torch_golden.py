"""Writes torch_golden.json: parameter values after each of 6 steps of every
torch.optim optimizer that a gradsweep optimizer mirrors, for a fixed
parameter and gradient sequence. Regenerate with
    /usr/bin/python3 torch_golden.py > torch_golden.json
(Debian's python3-torch). The Go test replays the same steps."""
import json
import torch

INIT = [0.5, -1.0, 2.0, 0.0, -0.3]
STEPS = 6


def grads(k):
    # a sign-changing, size-varying gradient sequence
    base = [0.1, -0.2, 0.3, 0.05, -0.7]
    return [b * (1 + 0.5 * k) * (1 if (k + i) % 3 else -1) for i, b in enumerate(base)]


CASES = [
    ("sgd", {}, 0.1, lambda p, lr, o: torch.optim.SGD(p, lr=lr, **o)),
    ("sgd", {"weight_decay": 0.1}, 0.1, lambda p, lr, o: torch.optim.SGD(p, lr=lr, **o)),
    ("momentum", {}, 0.1, lambda p, lr, o: torch.optim.SGD(p, lr=lr, momentum=0.9, **o)),
    ("momentum", {"momentum": 0.5, "dampening": 0.3, "weight_decay": 0.01}, 0.1,
     lambda p, lr, o: torch.optim.SGD(p, lr=lr, **o)),
    ("nesterov", {}, 0.1, lambda p, lr, o: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True, **o)),
    ("adagrad", {}, 0.1, lambda p, lr, o: torch.optim.Adagrad(p, lr=lr, **o)),
    ("adagrad", {"lr_decay": 0.1, "initial_accumulator_value": 0.2, "weight_decay": 0.05}, 0.1,
     lambda p, lr, o: torch.optim.Adagrad(p, lr=lr, **o)),
    ("rmsprop", {}, 0.01, lambda p, lr, o: torch.optim.RMSprop(p, lr=lr, **o)),
    ("rmsprop", {"momentum": 0.9, "centered": True, "alpha": 0.9}, 0.01,
     lambda p, lr, o: torch.optim.RMSprop(p, lr=lr, **o)),
    ("adadelta", {}, 1.0, lambda p, lr, o: torch.optim.Adadelta(p, lr=lr, **o)),
    ("adadelta", {"rho": 0.5, "weight_decay": 0.1}, 0.5, lambda p, lr, o: torch.optim.Adadelta(p, lr=lr, **o)),
    ("adam", {}, 0.01, lambda p, lr, o: torch.optim.Adam(p, lr=lr, **o)),
    ("adam", {"amsgrad": True, "weight_decay": 0.1, "beta1": 0.8, "beta2": 0.99}, 0.01,
     lambda p, lr, o: torch.optim.Adam(p, lr=lr, betas=(o.pop("beta1"), o.pop("beta2")), **o)),
    ("adamw", {}, 0.01, lambda p, lr, o: torch.optim.AdamW(p, lr=lr, **o)),
    ("adamw", {"weight_decay": 0.5}, 0.1, lambda p, lr, o: torch.optim.AdamW(p, lr=lr, **o)),
    ("nadam", {}, 0.01, lambda p, lr, o: DocumentedNAdam(p, lr=lr, **o)),
    ("nadam", {"momentum_decay": 0.01, "weight_decay": 0.1}, 0.01, lambda p, lr, o: DocumentedNAdam(p, lr=lr, **o)),
]

class DocumentedNAdam:
    """torch.optim.NAdam as documented (and as torch >= 2.0 computes it).
    torch 1.13's own NAdam multiplies mu into mu_product_next twice
    (mu_product * mu * mu_next), a bug fixed upstream, so the golden values
    follow the documented formula, with torch's float32 tensor ops."""

    def __init__(self, params, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, momentum_decay=4e-3):
        self.p, self.lr, self.b1, self.b2, self.eps, self.wd, self.psi = params[0], lr, beta1, beta2, eps, weight_decay, momentum_decay
        self.m = torch.zeros_like(self.p)
        self.v = torch.zeros_like(self.p)
        self.mu_product = torch.tensor(1.0)  # float32, as torch keeps it
        self.step_n = 0

    @torch.no_grad()
    def step(self):
        self.step_n += 1
        t = self.step_n
        g = self.p.grad
        if self.wd != 0:
            g = g.add(self.p, alpha=self.wd)
        bc2 = 1 - self.b2 ** t
        mu = self.b1 * (1. - 0.5 * (0.96 ** (t * self.psi)))
        mu_next = self.b1 * (1. - 0.5 * (0.96 ** ((t + 1) * self.psi)))
        self.mu_product *= mu
        self.m.mul_(self.b1).add_(g, alpha=1 - self.b1)
        self.v.mul_(self.b2).addcmul_(g, g, value=1 - self.b2)
        denom = self.v.div(bc2).sqrt().add_(self.eps)
        mp = self.mu_product.item()
        self.p.addcdiv_(g, denom, value=-self.lr * (1. - mu) / (1. - mp))
        self.p.addcdiv_(self.m, denom, value=-self.lr * mu_next / (1. - mp * mu_next))


out = []
for name, opts, lr, make in CASES:
    p = torch.tensor(INIT, dtype=torch.float32, requires_grad=True)
    opt = make([p], lr, dict(opts))
    traj = []
    for k in range(STEPS):
        p.grad = torch.tensor(grads(k), dtype=torch.float32)
        opt.step()
        traj.append([float(v) for v in p.detach()])
    out.append({"optimizer": name, "options": opts, "lr": lr, "trajectory": traj})
print(json.dumps({"torch": torch.__version__, "init": INIT,
                  "grads": [[float(torch.tensor(g, dtype=torch.float32)[i]) for i in range(len(INIT))] for g in map(grads, range(STEPS))],
                  "cases": out}, indent=1))
