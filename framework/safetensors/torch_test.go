package safetensors

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

const python = "/usr/bin/python3"

// torchScript writes, with the minimal safetensors writer of
// bench/torch_mlp.py (--save-init), the initial state_dict of a
// small torch MLP (F32), plus a file of F64/F16/BF16 tensors; it prints the
// expected values as JSON. Given a file written by Go, it loads it with the
// reader of bench/mlp_data.py into the same MLP (load_state_dict) and prints it back.
const torchScript = `
import json, struct, sys
import numpy as np, torch

def save_safetensors(path, tensors, dtypes=None):
    """As torch_mlp.py, plus an optional dtype per tensor."""
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        st, npdt = (dtypes or {}).get(name, ('F32', '<f4'))
        if st == 'BF16':
            a = t.detach().to(torch.bfloat16).view(torch.int16).numpy().astype('<i2')
        else:
            a = t.detach().cpu().contiguous().numpy().astype(npdt)
        header[name] = {'dtype': st, 'shape': list(a.shape), 'data_offsets': [off, off + a.nbytes]}
        blobs.append(a.tobytes()); off += a.nbytes
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h))); f.write(h)
        for b in blobs: f.write(b)

def load_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n)); data = f.read()
    out = {}
    for name, meta in header.items():
        if name == '__metadata__': continue
        lo, hi = meta['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(data[lo:hi], dtype='<f4').reshape(meta['shape']).copy())
    return out, header.get('__metadata__', {})

def dump(sd):
    return {k: {'shape': list(v.shape), 'data': [float(x) for x in v.float().flatten()]} for k, v in sd.items()}

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
if sys.argv[1] == 'save':
    save_safetensors(sys.argv[2], model.state_dict())
    x = torch.tensor([[0.1, -2.5, 3.0], [65504.0, 1e-7, -0.0]])
    other = {'f64': x.double(), 'f16': x.half(), 'bf16': x.bfloat16()}
    save_safetensors(sys.argv[3], other, {'f64': ('F64', '<f8'), 'f16': ('F16', '<f2'), 'bf16': ('BF16', None)})
    print(json.dumps({'mlp': dump(model.state_dict()), 'other': dump(other)}))
else:
    sd, meta = load_safetensors(sys.argv[2])
    model.load_state_dict(sd)
    print(json.dumps({'mlp': dump(model.state_dict()), 'meta': meta}))
`

type dumped map[string]struct {
	Shape []int
	Data  []float64
}

func (d dumped) tensors() map[string]Tensor {
	out := map[string]Tensor{}
	for k, v := range d {
		t := Tensor{Shape: v.Shape, Data: make([]float32, len(v.Data))}
		for i, x := range v.Data {
			t.Data[i] = float32(x)
		}
		out[k] = t
	}
	return out
}

func TestTorchInterop(t *testing.T) {
	if err := exec.Command(python, "-c", "import torch, numpy").Run(); err != nil {
		t.Skipf("%s with torch not available: %v", python, err)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "st.py")
	os.WriteFile(script, []byte(torchScript), 0o644)
	mlpPath, otherPath := filepath.Join(dir, "mlp.safetensors"), filepath.Join(dir, "other.safetensors")
	out, err := exec.Command(python, script, "save", mlpPath, otherPath).Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, errText(err))
	}
	var want struct{ MLP, Other dumped }
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatalf("python output %q: %v", out, err)
	}

	// torch → Go, F32 state_dict (names in torch order, not sorted).
	got, _, err := ReadFile(mlpPath)
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, got, want.MLP.tensors())
	if w := got["0.weight"]; len(w.Shape) != 2 || w.Shape[0] != 4 || w.Shape[1] != 5 {
		t.Errorf("0.weight shape %v, want [4 5] ([out, in])", w.Shape)
	}
	// torch → Go, F64/F16/BF16 (torch's own rounding; values compared as
	// float32 of what torch reports).
	got, _, err = ReadFile(otherPath)
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, got, want.Other.tensors())

	// Go → torch: load_state_dict of the MLP from a file Go wrote.
	goPath := filepath.Join(dir, "go.safetensors")
	if err := WriteFile(goPath, want.MLP.tensors(), map[string]string{"writer": "gradsweep"}); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(python, script, "load", goPath).Output()
	if err != nil {
		t.Fatalf("python load: %v\n%s", err, errText(err))
	}
	var back struct {
		MLP  dumped
		Meta map[string]string
	}
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("python output %q: %v", out, err)
	}
	assertEqual(t, back.MLP.tensors(), want.MLP.tensors())
	if back.Meta["writer"] != "gradsweep" {
		t.Errorf("metadata seen by python: %v", back.Meta)
	}
}

func errText(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
