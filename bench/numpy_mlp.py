#!/usr/bin/python3
"""The numpy yardstick: how many MNIST samples per second a hand-written numpy
loop, with no framework at all, trains through the reference workload of
`sweep bench` (bench/bench.go). It is the "no overhead" peer: at batch 32 and
256 it is faster than PyTorch, so being ahead of every peer means ahead of it.

The workload, as bench/torch_mlp.py: dense layers (by default 784-128-64-10)
with ReLU (or --activation) between them, softmax cross-entropy averaged over the batch, plain
SGD at --lr (0.05), float32 throughout, one pass over the first N MNIST
training images in order. Forward and backward passes are written out by
hand with numpy's matrix products (OpenBLAS). The clock covers the training
loop only.

It prints one JSON line with the fields of `sweep bench` (samples_per_s,
steps_per_s, seconds, final_loss, mean_loss). With --load-init FILE (written
by `bench/torch_mlp.py --save-init`) it starts from PyTorch's initial
weights, and its mean_loss agrees with the other two to float32 rounding;
without it, it draws nn.Linear's initialisation, U(±1/sqrt(fan_in)), from
its own seeded generator.

usage: /usr/bin/python3 bench/numpy_mlp.py [--batch 32] [--samples 60000]
           [--arch 784,128,64,10] [--lr 0.05] [--mnist DIR] [--load-init FILE]

Run it on one thread, as scripts/bench.py does by default: OMP_NUM_THREADS=1
OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=SkylakeX (OPENBLAS_NUM_THREADS=N for
N threads, which the JSON line reports).
"""
import argparse
import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ folder in bench/
from mlp_data import die, load_mnist, load_safetensors, np, parse_common


def sigmoid_(z):
    """z = 1/(1 + e^-z) in place (float32; e^-z may overflow to inf, giving 0)."""
    with np.errstate(over='ignore'):
        np.negative(z, out=z)
        np.exp(z, out=z)
    z += np.float32(1)
    np.reciprocal(z, out=z)


# Each hidden activation: f applied to z in place, and f' written in terms of
# the output a = f(z), as float32.
ACT = {
    'relu': (lambda z: np.maximum(z, 0, out=z), lambda a: a > 0),
    'leaky_relu': (lambda z: np.maximum(z, np.float32(0.01) * z, out=z),
                   lambda a: np.where(a > 0, np.float32(1), np.float32(0.01))),
    'tanh': (lambda z: np.tanh(z, out=z), lambda a: np.float32(1) - a * a),
    'sigmoid': (sigmoid_, lambda a: a * (np.float32(1) - a)),
}


def main():
    p = argparse.ArgumentParser(description='numpy yardstick for `sweep bench`.')
    a = parse_common(p)
    dims = a.dims
    x, y = load_mnist(a.mnist, a.samples)
    L = len(dims) - 1
    if a.load_init:
        # nn.Sequential names: Linear i is module 2i (activations sit between), its
        # weight is [out, in]; here W[l] is [in, out] so that z = x @ W[l].
        sd = load_safetensors(a.load_init)
        W, B = [], []
        for l in range(L):
            w, b = sd.get('%d.weight' % (2 * l)), sd.get('%d.bias' % (2 * l))
            if w is None or b is None or w.shape != (dims[l + 1], dims[l]) or b.shape != (dims[l + 1],):
                die('%s: no %d.weight [%d, %d] and %d.bias for --arch %s' % (
                    a.load_init, 2 * l, dims[l + 1], dims[l], 2 * l, a.arch))
            W.append(np.ascontiguousarray(w.T))
            B.append(b)
    else:
        rng = np.random.default_rng(0)
        W = [rng.uniform(-1, 1, (dims[l], dims[l + 1])).astype(np.float32) / np.float32(np.sqrt(dims[l]))
             for l in range(L)]
        B = [rng.uniform(-1, 1, dims[l + 1]).astype(np.float32) / np.float32(np.sqrt(dims[l])) for l in range(L)]
    activate, slope = ACT[a.activation]
    lr = np.float32(a.lr)
    n = x.shape[0]
    t0 = time.perf_counter()
    steps, loss_sum = 0, 0.0
    for i in range(0, n, a.batch):
        xb, yb = x[i:i + a.batch], y[i:i + a.batch]
        m = xb.shape[0]
        acts = [xb]
        for l in range(L):
            z = acts[-1] @ W[l]
            z += B[l]
            if l < L - 1:
                activate(z)
            acts.append(z)
        z = acts[-1]
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)  # softmax probabilities
        r = np.arange(m)
        loss = -np.log(z[r, yb]).mean()
        loss_sum += float(loss) * m
        z[r, yb] -= 1
        z *= np.float32(1.0 / m)  # d loss / d logits
        d = z
        for l in range(L - 1, -1, -1):
            gW = acts[l].T @ d
            gB = d.sum(axis=0)
            if l > 0:
                d = d @ W[l].T
                d *= slope(acts[l])  # f'(z) from the activation's output
            gW *= lr
            W[l] -= gW
            gB *= lr
            B[l] -= gB
        steps += 1
    dt = time.perf_counter() - t0
    if W[0].dtype != np.float32:
        sys.exit('numpy_mlp.py: internal error: the weights left float32 (%s)' % W[0].dtype)
    print(json.dumps({'peer': 'numpy-%s' % np.__version__, 'arch': a.arch, 'batch': a.batch,
                      'threads': int(os.environ.get('OPENBLAS_NUM_THREADS', '1')),
                      'opt': 'sgd', 'activation': a.activation, 'data': 'mnist', 'samples': n, 'samples_per_s': n / dt,
                      'steps_per_s': steps / dt, 'seconds': dt, 'final_loss': float(loss),
                      'mean_loss': loss_sum / n}))


if __name__ == '__main__':
    main()
