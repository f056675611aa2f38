package safetensors

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestGolden(t *testing.T) {
	tensors := map[string]Tensor{
		"b": {Shape: []int{1}, Data: []float32{1}},
		"a": {Shape: []int{2}, Data: []float32{0.5, -2}},
	}
	var buf bytes.Buffer
	if err := Write(&buf, tensors, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	// Worked out by hand: the header is 133 bytes of JSON, padded with 3
	// spaces to 136 = 0x88; the data is a (sorted first) then b, as
	// little-endian float32: 0.5 = 0x3f000000, -2 = 0xc0000000, 1 = 0x3f800000.
	header := `{"__metadata__":{"k":"v"},` +
		`"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},` +
		`"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}` + "   "
	want := []byte{0x88, 0, 0, 0, 0, 0, 0, 0}
	want = append(want, header...)
	want = append(want,
		0x00, 0x00, 0x00, 0x3f,
		0x00, 0x00, 0x00, 0xc0,
		0x00, 0x00, 0x80, 0x3f)
	if len(want) != 156 {
		t.Fatalf("test is wrong: %d bytes", len(want))
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("got\n%q\nwant\n%q", buf.Bytes(), want)
	}
	got, meta, err := Read(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	if meta["k"] != "v" || len(meta) != 1 {
		t.Errorf("metadata %v", meta)
	}
	assertEqual(t, got, tensors)
}

func TestRoundTrip(t *testing.T) {
	tensors := map[string]Tensor{
		"0.weight":    {Shape: []int{3, 2}, Data: []float32{1, 2, 3, 4, 5, 6}},
		"0.bias":      {Shape: []int{3}, Data: []float32{-1, float32(math.Inf(1)), float32(math.SmallestNonzeroFloat32)}},
		"scalar":      {Shape: []int{}, Data: []float32{42}},
		"empty":       {Shape: []int{0, 5}, Data: []float32{}},
		"naïve \"q\"": {Shape: []int{1, 1, 1}, Data: []float32{float32(math.NaN())}},
	}
	meta := map[string]string{"format": "pt", "arch": "784,128,10", "<html>": "a&b"}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := WriteFile(path, tensors, meta); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	n := binary.LittleEndian.Uint64(raw)
	if (8+n)%8 != 0 || raw[8] != '{' {
		t.Errorf("header length %d: data not 8-aligned", n)
	}
	if !bytes.Contains(raw, []byte(`"<html>":"a&b"`)) {
		t.Errorf("metadata escaped: %s", raw[8:8+n])
	}
	got, gotMeta, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, got, tensors)
	if len(gotMeta) != len(meta) {
		t.Errorf("metadata %v", gotMeta)
	}
	for k, v := range meta {
		if gotMeta[k] != v {
			t.Errorf("metadata %q = %q, want %q", k, gotMeta[k], v)
		}
	}
	// The same through a reader that hides its length.
	got, _, err = Read(onlyReader{bytes.NewReader(raw)})
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, got, tensors)
	// No metadata, no tensors.
	var buf bytes.Buffer
	if err := Write(&buf, nil, nil); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "\x08\x00\x00\x00\x00\x00\x00\x00{}      " {
		t.Errorf("empty file %q", buf.String())
	}
	got, gotMeta, err = Read(&buf)
	if err != nil || len(got) != 0 || gotMeta == nil || len(gotMeta) != 0 {
		t.Errorf("empty: %v %v %v", got, gotMeta, err)
	}
	// No temporary file left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory has %d entries", len(entries))
	}
}

func TestWriteErrors(t *testing.T) {
	cases := map[string]map[string]Tensor{
		"elements":   {"w": {Shape: []int{2, 2}, Data: []float32{1, 2, 3}}},
		"empty name": {"": {Shape: []int{1}, Data: []float32{1}}},
		"reserved":   {"__metadata__": {Shape: []int{1}, Data: []float32{1}}},
		"negative":   {"w": {Shape: []int{-1}, Data: nil}},
		"utf8":       {"\xff": {Shape: []int{1}, Data: []float32{1}}},
	}
	for name, tensors := range cases {
		path := filepath.Join(t.TempDir(), "x.safetensors")
		if err := WriteFile(path, tensors, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
		if _, err := os.Stat(path); err == nil {
			t.Errorf("%s: file written despite the error", name)
		}
		if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 0 {
			t.Errorf("%s: temporary file left", name)
		}
	}
	if err := WriteFile(filepath.Join(t.TempDir(), "no", "dir"), nil, nil); err == nil {
		t.Error("missing directory accepted")
	}
}

// build assembles a file from a header and data.
func build(header string, data ...byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(out, header...), data...)
}

func TestOtherDtypes(t *testing.T) {
	f16 := []byte{
		0x00, 0x3c, // 1
		0x00, 0xc0, // -2
		0x01, 0x00, // 2^-24, smallest subnormal
		0xff, 0x03, // largest subnormal (1023 × 2^-24)
		0xff, 0x7b, // 65504
		0x00, 0x7c, // +Inf
		0x00, 0x80, // -0
		0x55, 0x35, // 0.333251953125
	}
	bf16 := []byte{0x80, 0x3f, 0x49, 0xc0} // 1, -3.140625
	f64 := binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.1))
	f64 = binary.LittleEndian.AppendUint64(f64, math.Float64bits(-1e300))
	data := slices.Concat(f64, f16, bf16)
	header := `{"d":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},` +
		`"h":{"dtype":"F16","shape":[2,4],"data_offsets":[16,32]},` +
		`"b":{"dtype":"BF16","shape":[2],"data_offsets":[32,36]}}`
	got, _, err := Read(bytes.NewReader(build(header, data...)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Tensor{
		"d": {Shape: []int{2}, Data: []float32{0.1, float32(math.Inf(-1))}},
		"h": {Shape: []int{2, 4}, Data: []float32{1, -2, 1.0 / (1 << 24), 1023.0 / (1 << 24), 65504, float32(math.Inf(1)), float32(math.Copysign(0, -1)), 0.333251953125}},
		"b": {Shape: []int{2}, Data: []float32{1, -3.140625}},
	}
	assertEqual(t, got, want)
	if nan := halfToFloat32(0x7e00); nan == nan {
		t.Error("F16 NaN decoded as a number")
	}
	// Every F16 value survives a float32 → float64 check against the formula.
	for h := range 1 << 16 {
		v := float64(halfToFloat32(uint16(h)))
		e, m := (h>>10)&0x1f, h&0x3ff
		var w float64
		switch {
		case e == 0:
			w = float64(m) * math.Pow(2, -24)
		case e == 31:
			continue
		default:
			w = (1 + float64(m)/1024) * math.Pow(2, float64(e-15))
		}
		if h&0x8000 != 0 {
			w = -w
		}
		if v != w {
			t.Fatalf("F16 0x%04x: %v, want %v", h, v, w)
		}
	}
}

func TestReadErrors(t *testing.T) {
	f32 := func(n int) []byte { return make([]byte, 4*n) }
	huge := binary.LittleEndian.AppendUint64(nil, 1<<62)
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "too short"},
		{"header past end", binary.LittleEndian.AppendUint64(nil, 1000), "larger than"},
		{"huge header", append(huge, "{}"...), "larger than"},
		{"tiny header", build("{"), "too small"},
		{"not json", build("nonsense"), "not a JSON object"},
		{"array", build("[1,2]   "), "not a JSON object"},
		{"truncated json", build(`{"a":{"dtype":"F32"`), "bad header"},
		{"trailing json", build(`{}x`), "after the JSON"},
		{"duplicate", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32(2)...), `"a" twice`},
		{"unknown dtype", build(`{"a":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}}`, f32(1)...), `unknown dtype "F17"`},
		{"unsupported dtype", build(`{"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}`, f32(1)...), "I32 is not supported"},
		{"shape mismatch", build(`{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}`, f32(5)...), "needs 24 bytes"},
		{"negative dim", build(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, f32(1)...), "bad dimension"},
		{"float dim", build(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, f32(1)...), "bad header entry"},
		{"overflow shape", build(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, f32(1)...), "too large"},
		{"missing field", build(`{"a":{"dtype":"F32","shape":[1]}}`, f32(1)...), "needs dtype, shape and data_offsets"},
		{"reversed offsets", build(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, f32(1)...), "bad data_offsets"},
		{"three offsets", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, f32(1)...), "bad data_offsets"},
		{"overlap", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32(2)...), "overlap"},
		{"gap", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, f32(3)...), "gap"},
		{"past end", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32(1)...), "describes 8 bytes of data but the input has 4"},
		{"trailing data", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32(2)...), "describes 4 bytes of data but the input has 8"},
		{"metadata type", build(`{"__metadata__":{"a":1}}`), "__metadata__"},
		{"not an object entry", build(`{"a":3}`), "bad header entry"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Read(bytes.NewReader(c.file))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Read: error %v, want %q", err, c.want)
			}
			// Without a known length, the same files must fail too.
			if _, _, err := Read(onlyReader{bytes.NewReader(c.file)}); err == nil {
				t.Error("Read without length: no error")
			}
			path := filepath.Join(t.TempDir(), "bad.safetensors")
			os.WriteFile(path, c.file, 0o644)
			if _, _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("ReadFile: error %v does not name the file", err)
			}
		})
	}
	// Streams of unknown length: a header length beyond the limit is refused
	// before reading, and a truncated stream is reported as such.
	_, _, err := Read(onlyReader{bytes.NewReader(append(huge, "{}"...))})
	if err == nil || !strings.Contains(err.Error(), "exceeds the limit") {
		t.Errorf("huge header, unknown length: %v", err)
	}
	_, _, err = Read(onlyReader{bytes.NewReader(build(`{"a":{"dtype":"F32","shape":[1000000000],"data_offsets":[0,4000000000]}}`, f32(3)...))})
	if err == nil || !strings.Contains(err.Error(), `data ends inside tensor "a"`) {
		t.Errorf("truncated data, unknown length: %v", err)
	}
	_, _, err = Read(onlyReader{bytes.NewReader(build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32(2)...))})
	if err == nil || !strings.Contains(err.Error(), "trailing bytes") {
		t.Errorf("trailing data, unknown length: %v", err)
	}
	_, _, err = Read(onlyReader{bytes.NewReader(binary.LittleEndian.AppendUint64(nil, 1000))})
	if err == nil || !strings.Contains(err.Error(), "ends after 0 header bytes") {
		t.Errorf("truncated header, unknown length: %v", err)
	}
}

func TestReadAcceptsAnyOrderAndUnpadded(t *testing.T) {
	// Names out of order relative to offsets, zero-size tensors, no padding,
	// extra fields and whitespace: all valid.
	data := binary.LittleEndian.AppendUint32(nil, math.Float32bits(7))
	data = binary.LittleEndian.AppendUint32(data, math.Float32bits(8))
	header := ` { "z" : {"dtype":"F32","shape":[1],"data_offsets":[0,4], "extra": [1]},
	  "a":{"shape":[1,1],"dtype":"F32","data_offsets":[4,8]}, "e":{"dtype":"F16","shape":[0],"data_offsets":[4,4]},
	  "__metadata__": null }`
	got, meta, err := Read(bytes.NewReader(build(header, data...)))
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, got, map[string]Tensor{
		"z": {Shape: []int{1}, Data: []float32{7}},
		"a": {Shape: []int{1, 1}, Data: []float32{8}},
		"e": {Shape: []int{0}, Data: []float32{}},
	})
	if meta == nil || len(meta) != 0 {
		t.Errorf("metadata %v", meta)
	}
}

// onlyReader hides the Len method of the reader it wraps.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func assertEqual(t *testing.T, got, want map[string]Tensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d tensors, want %d", len(got), len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Fatalf("tensor %q missing", name)
		}
		if !slices.Equal(g.Shape, w.Shape) && !(len(g.Shape) == 0 && len(w.Shape) == 0) {
			t.Errorf("%q: shape %v, want %v", name, g.Shape, w.Shape)
		}
		if len(g.Data) != len(w.Data) {
			t.Fatalf("%q: %d values, want %d", name, len(g.Data), len(w.Data))
		}
		for i := range w.Data {
			if math.Float32bits(g.Data[i]) != math.Float32bits(w.Data[i]) {
				t.Errorf("%q[%d] = %v, want %v", name, i, g.Data[i], w.Data[i])
			}
		}
	}
}

func FuzzRead(f *testing.F) {
	var good bytes.Buffer
	Write(&good, map[string]Tensor{"w": {Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}}, "b": {Shape: []int{2}, Data: []float32{5, 6}}}, map[string]string{"k": "v"})
	f.Add(good.Bytes())
	f.Add(build(`{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]}}`, 0, 0x3c, 0, 0xc0, 0x80, 0x3f))
	f.Add(build(`{"d":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f))
	f.Add(build(`{"__metadata__":{"a":"b"}}`))
	f.Add([]byte{})
	f.Add(build(`{"w":{"dtype":"F32","shape":[1000000000],"data_offsets":[0,4000000000]}}`))
	f.Fuzz(func(t *testing.T, file []byte) {
		// memory stays bounded by the input, whatever its header claims
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		got, meta, err := Read(bytes.NewReader(file))
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 64*uint64(len(file))+4<<20 {
			t.Fatalf("reading %d bytes allocated %d", len(file), n)
		}
		got2, _, err2 := Read(onlyReader{bytes.NewReader(file)})
		if (err == nil) != (err2 == nil) {
			t.Fatalf("with length: %v; without: %v", err, err2)
		}
		if err != nil {
			return
		}
		if meta == nil {
			t.Fatal("nil metadata")
		}
		for name, tensor := range got {
			n, err := numel(tensor.Shape)
			if err != nil || n != len(tensor.Data) {
				t.Fatalf("%q: shape %v with %d values", name, tensor.Shape, len(tensor.Data))
			}
		}
		assertEqual(t, got2, got)
		// What was read can be written and read back identically.
		if _, ok := got[metadataKey]; ok {
			return
		}
		if _, ok := got[""]; ok {
			return
		}
		var buf bytes.Buffer
		if err := Write(&buf, got, meta); err != nil {
			return // names or metadata that are not valid UTF-8
		}
		back, _, err := Read(&buf)
		if err != nil {
			t.Fatalf("re-reading what Write wrote: %v", err)
		}
		assertEqual(t, back, got)
	})
}
