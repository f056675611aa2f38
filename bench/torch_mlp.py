#!/usr/bin/python3
"""The PyTorch yardstick: how many MNIST samples per second PyTorch trains
through the reference workload of `sweep bench` (bench/bench.go), on the CPU.

The workload: an MLP (by default 784-128-64-10) of nn.Linear layers with ReLU (or --activation)
between them, softmax cross-entropy (nn.CrossEntropyLoss, mean over the
batch), plain SGD at lr 0.05 (or momentum 0.9, or Adam at lr/50, as `sweep
bench --optimizer`), float32, one pass over the first N MNIST training images
in order (no shuffle, pixels scaled to [0, 1]), on --threads threads. The
clock covers the training loop only, not loading the data or building the
model.

It prints one JSON line with the field names of `sweep bench`: samples_per_s,
steps_per_s, seconds, final_loss (the last batch's loss) and mean_loss (the
batch losses' mean, weighted by batch size). Started from the same initial
weights (--save-init here, `sweep bench --init` there), the two programs do
the same arithmetic, so their mean_loss must agree to float32 rounding.

usage: /usr/bin/python3 bench/torch_mlp.py [--batch 32] [--samples 60000]
           [--arch 784,128,64,10] [--opt sgd|momentum|adam] [--lr 0.05]
           [--threads 1] [--mnist DIR] [--save-init FILE] [--load-init FILE]

--mnist is a folder with train-images-idx3-ubyte.gz and
train-labels-idx1-ubyte.gz (default $MNIST_DIR; scripts/bench.py finds the
copy in the Go module cache). --save-init writes the initial weights as
safetensors with nn.Sequential's names (0.weight [out, in], 0.bias, 2.weight,
...); --load-init starts from such a file. Run it with Debian's
/usr/bin/python3 (apt-get install python3-torch) and OPENBLAS_CORETYPE=SkylakeX
on AVX-512 machines that Debian's OpenBLAS does not recognise, so that PyTorch
runs its fastest kernels.
"""
import argparse
import json
import struct
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ folder in bench/
from mlp_data import die, load_mnist, load_safetensors, parse_common

try:
    import torch
except ImportError:
    die('needs PyTorch: run it with /usr/bin/python3 (apt-get install python3-torch)')


def save_safetensors(path, tensors):
    """Writes float32 tensors as safetensors: an 8-byte little-endian header
    size, a JSON header padded to 8 bytes, then the raw little-endian data."""
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        a = t.detach().cpu().contiguous().numpy().astype('<f4')
        header[name] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    p = argparse.ArgumentParser(description='PyTorch yardstick for `sweep bench`.')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--opt', default='sgd', choices=['sgd', 'momentum', 'adam'])
    p.add_argument('--save-init', default='')
    a = parse_common(p)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x, y = load_mnist(a.mnist, a.samples)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    layers = []
    for i in range(len(a.dims) - 1):
        layers.append(torch.nn.Linear(a.dims[i], a.dims[i + 1]))
        if i < len(a.dims) - 2:
            layers.append({'relu': torch.nn.ReLU, 'leaky_relu': torch.nn.LeakyReLU, 'tanh': torch.nn.Tanh,
                           'sigmoid': torch.nn.Sigmoid}[a.activation]())
    model = torch.nn.Sequential(*layers)
    if a.load_init:
        try:
            model.load_state_dict({k: torch.from_numpy(v) for k, v in load_safetensors(a.load_init).items()})
        except RuntimeError as e:
            die('%s: %s' % (a.load_init, str(e).splitlines()[0]))
    if a.save_init:
        save_safetensors(a.save_init, model.state_dict())
    lossf = torch.nn.CrossEntropyLoss()
    opt = {'sgd': lambda: torch.optim.SGD(model.parameters(), lr=a.lr),
           'momentum': lambda: torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9),
           'adam': lambda: torch.optim.Adam(model.parameters(), lr=a.lr / 50)}[a.opt]()
    n = x.shape[0]
    t0 = time.perf_counter()
    steps, loss_sum = 0, 0.0
    for i in range(0, n, a.batch):
        xb, yb = x[i:i + a.batch], y[i:i + a.batch]
        opt.zero_grad(set_to_none=True)
        loss = lossf(model(xb), yb)
        loss.backward()
        opt.step()
        loss_sum += float(loss) * xb.shape[0]
        steps += 1
    dt = time.perf_counter() - t0
    print(json.dumps({'peer': 'pytorch-%s' % torch.__version__, 'arch': a.arch, 'batch': a.batch,
                      'threads': a.threads, 'opt': a.opt, 'activation': a.activation, 'data': 'mnist', 'samples': n,
                      'samples_per_s': n / dt, 'steps_per_s': steps / dt, 'seconds': dt,
                      'final_loss': float(loss), 'mean_loss': loss_sum / n}))


if __name__ == '__main__':
    main()
