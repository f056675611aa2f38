"""What the two yardsticks of `sweep bench` share (bench/torch_mlp.py and
bench/numpy_mlp.py): their common flags, the MNIST reader, the safetensors
reader for --load-init, and a one-line exit for what the user must fix.
It needs numpy (apt-get install python3-numpy)."""
import gzip
import json
import os
import struct
import sys

try:
    import numpy as np
except ImportError:
    np = None


def die(msg):
    """Prints '<script>: msg' on one line to stderr and exits with 2."""
    print('%s: %s' % (os.path.basename(sys.argv[0]), msg), file=sys.stderr)
    sys.exit(2)


if np is None:
    die('needs numpy: run it with /usr/bin/python3 (apt-get install python3-numpy)')


# The hidden activations of the workload, as `sweep bench --activation`.
ACTIVATIONS = ['relu', 'leaky_relu', 'tanh', 'sigmoid']


def parse_common(p):
    """Adds the flags both yardsticks share to the ArgumentParser p, parses
    the command line and checks it. The result has .dims, the layer widths."""
    p.add_argument('--arch', default='784,128,64,10', help='layer widths, input first')
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--samples', type=int, default=60000, help='the first N MNIST training images')
    p.add_argument('--lr', type=float, default=0.05)
    p.add_argument('--mnist', default=os.environ.get('MNIST_DIR', ''),
                   help='folder of train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz (default $MNIST_DIR)')
    p.add_argument('--load-init', default='', help='start from these weights (safetensors, nn.Sequential names)')
    p.add_argument('--activation', default='relu', choices=ACTIVATIONS,
                   help='hidden activation (leaky_relu: negative slope 0.01, as nn.LeakyReLU)')
    a = p.parse_args()
    try:
        a.dims = [int(d) for d in a.arch.replace('-', ',').split(',')]
    except ValueError:
        a.dims = []
    if len(a.dims) < 2 or min(a.dims) < 1:
        die('--arch %r: want at least two positive widths, e.g. 784,128,64,10' % a.arch)
    if a.batch < 1 or a.samples < a.batch:
        die('need 1 <= --batch <= --samples, got batch %d, samples %d' % (a.batch, a.samples))
    if not a.mnist:
        die('needs MNIST: give --mnist DIR or $MNIST_DIR (scripts/bench.py finds it in the Go module cache)')
    return a


def load_mnist(dirpath, n):
    """Returns the first n MNIST training images as float32 rows scaled to
    [0, 1] and their labels as int64, read from the gzipped IDX files."""
    files = [os.path.join(dirpath, f) for f in ('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz')]
    for f in files:
        if not os.path.isfile(f):
            die('needs MNIST: %s does not exist' % f)
    with gzip.open(files[0]) as f:
        _, cnt, r, c = struct.unpack('>IIII', f.read(16))
        if cnt < n:
            die('%s has %d images, fewer than --samples %d' % (files[0], cnt, n))
        x = np.frombuffer(f.read(n * r * c), dtype=np.uint8).reshape(n, r * c).astype(np.float32) / np.float32(255)
    with gzip.open(files[1]) as f:
        f.read(8)
        y = np.frombuffer(f.read(n), dtype=np.uint8).astype(np.int64)
    return x, y


def load_safetensors(path):
    """Reads a safetensors file of F32 tensors into {name: numpy array}."""
    try:
        with open(path, 'rb') as f:
            n = struct.unpack('<Q', f.read(8))[0]
            header = json.loads(f.read(n))
            data = f.read()
    except (OSError, struct.error, ValueError) as e:
        die('%s: not a readable safetensors file (%s)' % (path, e))
    out = {}
    for name, meta in header.items():
        if name == '__metadata__':
            continue
        if meta.get('dtype') != 'F32':
            die('%s: %s is %s, want F32' % (path, name, meta.get('dtype')))
        lo, hi = meta['data_offsets']
        out[name] = np.frombuffer(data[lo:hi], dtype='<f4').reshape(meta['shape']).copy()
    return out
