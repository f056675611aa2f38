// Package safetensors reads and writes the safetensors format
// (https://github.com/huggingface/safetensors), as used for PyTorch and
// Hugging Face weights:
//
//	8 bytes     N, the header length, unsigned little-endian
//	N bytes     JSON header: {"__metadata__": {string: string},
//	            "name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
//	            padded with spaces so that the data starts at a multiple of 8
//	rest        the tensors' raw little-endian data, row-major; offsets are
//	            relative to the start of this section
//
// Write produces F32 tensors laid out contiguously in sorted-name order, as
// the reference writer does for tensors of one dtype. Read accepts F32, F64,
// F16 and BF16 tensors (converted to float32) in any layout that covers the
// data section exactly once, and rejects anything else with an error; it
// never panics and never allocates much more than the input holds, whatever
// the header claims.
package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Tensor is a dense row-major float32 tensor. Its element count is the
// product of Shape (1 for an empty Shape, a scalar).
type Tensor struct {
	Shape []int
	Data  []float32
}

// MaxHeaderSize bounds the JSON header length Read accepts (the reference
// implementation's limit).
const MaxHeaderSize = 100_000_000

const metadataKey = "__metadata__"

// maxElems bounds a tensor's element count so that its size in bytes fits
// an int.
const maxElems = math.MaxInt / 8

// numel returns the element count of shape, or an error for a negative
// dimension or an element count that overflows.
func numel(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d != 0 && n > maxElems/d {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n *= d
	}
	return n, nil
}

// Write writes tensors and metadata (which may be nil) in safetensors
// format, as F32. Tensors are laid out in sorted-name order; the header
// lists "__metadata__" (when not empty) and then the tensors in that order.
// Names must be non-empty valid UTF-8 and not "__metadata__", and each
// tensor's Data must have exactly the product of its Shape elements.
func Write(w io.Writer, tensors map[string]Tensor, metadata map[string]string) error {
	header, names, err := buildHeader(tensors, metadata)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	bw.Write(n[:])
	bw.Write(header)
	var b [4]byte
	for _, name := range names {
		for _, v := range tensors[name].Data {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			if _, err := bw.Write(b[:]); err != nil {
				return fmt.Errorf("safetensors: %w", err)
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// buildHeader returns the padded JSON header and the sorted tensor names.
func buildHeader(tensors map[string]Tensor, metadata map[string]string) ([]byte, []string, error) {
	names := make([]string, 0, len(tensors))
	for name, t := range tensors {
		switch {
		case name == "":
			return nil, nil, errors.New("safetensors: empty tensor name")
		case name == metadataKey:
			return nil, nil, fmt.Errorf("safetensors: tensor name %q is reserved", name)
		case !utf8.ValidString(name):
			return nil, nil, fmt.Errorf("safetensors: tensor name %q is not valid UTF-8", name)
		}
		n, err := numel(t.Shape)
		if err != nil {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: %v", name, err)
		}
		if n != len(t.Data) {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: shape %v has %d elements but Data has %d", name, t.Shape, n, len(t.Data))
		}
		names = append(names, name)
	}
	slices.Sort(names)

	var h bytes.Buffer
	h.WriteByte('{')
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k, v := range metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, nil, fmt.Errorf("safetensors: metadata %q: not valid UTF-8", k)
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		writeJSONString(&h, metadataKey)
		h.WriteString(":{")
		for i, k := range keys {
			if i > 0 {
				h.WriteByte(',')
			}
			writeJSONString(&h, k)
			h.WriteByte(':')
			writeJSONString(&h, metadata[k])
		}
		h.WriteByte('}')
	}
	var off int64
	for i, name := range names {
		if i > 0 || len(metadata) > 0 {
			h.WriteByte(',')
		}
		t := tensors[name]
		size := int64(len(t.Data)) * 4
		writeJSONString(&h, name)
		h.WriteString(`:{"dtype":"F32","shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(d))
		}
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, off, off+size)
		off += size
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	return h.Bytes(), names, nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)           // cannot fail for a string
	b.Truncate(b.Len() - 1) // Encode's newline
}

// WriteFile writes a safetensors file atomically: to a temporary file in
// the same directory, synced, then renamed over path.
func WriteFile(path string, tensors map[string]Tensor, metadata map[string]string) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := Write(f, tensors, metadata); err != nil {
		return fmt.Errorf("%w (writing %s)", err, path)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// ReadFile reads a safetensors file with Read.
func ReadFile(path string) (map[string]Tensor, map[string]string, error) {
	// Opening a FIFO blocks until a writer comes, and a device may never
	// end: refuse what is not a regular file before opening it.
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("safetensors: %s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	t, m, err := read(bufio.NewReaderSize(f, 1<<16), size)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (reading %s)", err, path)
	}
	return t, m, nil
}

// Read reads a whole safetensors stream: the tensors (converted to float32)
// and the metadata (an empty map if the header has none). The stream must
// end right after the last tensor's data.
//
// Accepted dtypes are F32, F64, F16 and BF16. Read rejects a header longer
// than MaxHeaderSize or than the input, a header that is not a JSON object
// of tensor entries (plus optional string-to-string "__metadata__"),
// duplicated names, unknown dtypes, negative or overflowing shapes, offsets
// that do not match the shape, that overlap, leave gaps or go past the data,
// and trailing bytes.
func Read(r io.Reader) (map[string]Tensor, map[string]string, error) {
	size := int64(-1)
	if l, ok := r.(interface{ Len() int }); ok { // bytes.Reader, strings.Reader, bytes.Buffer
		size = int64(l.Len())
	}
	return read(r, size)
}

type dtypeInfo struct {
	size   int
	decode func(b []byte) float32
}

var dtypes = map[string]dtypeInfo{
	"F32": {4, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }},
	"F64": {8, func(b []byte) float32 { return float32(math.Float64frombits(binary.LittleEndian.Uint64(b))) }},
	"F16": {2, func(b []byte) float32 { return halfToFloat32(binary.LittleEndian.Uint16(b)) }},
	"BF16": {2, func(b []byte) float32 {
		return math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16)
	}},
}

// knownDtypes lists the other dtypes of the format, for a clearer message.
var knownDtypes = []string{"BOOL", "U8", "I8", "I16", "U16", "I32", "U32", "I64", "U64",
	"F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64"}

type entry struct {
	name       string
	dtype      dtypeInfo
	shape      []int
	begin, end int64
}

// read parses a stream; size is the number of bytes it holds, or -1 when
// unknown (then buffers only grow as data actually arrives).
func read(r io.Reader, size int64) (map[string]Tensor, map[string]string, error) {
	var nb [8]byte
	if _, err := io.ReadFull(r, nb[:]); err != nil {
		return nil, nil, fmt.Errorf("safetensors: input too short for the 8-byte header length (%v)", err)
	}
	hlen := binary.LittleEndian.Uint64(nb[:])
	if size >= 0 && hlen > uint64(size-8) {
		return nil, nil, fmt.Errorf("safetensors: header length %d is larger than the %d bytes after it", hlen, size-8)
	}
	if hlen > MaxHeaderSize {
		return nil, nil, fmt.Errorf("safetensors: header length %d exceeds the limit of %d", hlen, MaxHeaderSize)
	}
	if hlen < 2 {
		return nil, nil, fmt.Errorf("safetensors: header length %d is too small for a JSON object", hlen)
	}
	var hb bytes.Buffer
	if size >= 0 {
		hb.Grow(int(hlen))
	}
	if k, err := io.CopyN(&hb, r, int64(hlen)); err != nil {
		return nil, nil, fmt.Errorf("safetensors: header length is %d but the input ends after %d header bytes", hlen, k)
	}
	entries, meta, err := parseHeader(hb.Bytes())
	if err != nil {
		return nil, nil, err
	}
	dataLen, err := checkLayout(entries)
	if err != nil {
		return nil, nil, err
	}
	if size >= 0 && dataLen != size-8-int64(hlen) {
		return nil, nil, fmt.Errorf("safetensors: the header describes %d bytes of data but the input has %d", dataLen, size-8-int64(hlen))
	}

	tensors := make(map[string]Tensor, len(entries))
	chunk := make([]byte, 1<<15)
	for _, e := range entries { // in offset order
		n := int((e.end - e.begin) / int64(e.dtype.size))
		var data []float32
		if size >= 0 {
			data = make([]float32, 0, n) // bounded by the input size, checked above
		} else {
			data = make([]float32, 0, min(n, len(chunk)))
		}
		step := len(chunk) / e.dtype.size * e.dtype.size
		for rem := e.end - e.begin; rem > 0; {
			c := chunk[:min(int64(step), rem)]
			if _, err := io.ReadFull(r, c); err != nil {
				return nil, nil, fmt.Errorf("safetensors: data ends inside tensor %q (bytes %d..%d of the data)", e.name, e.begin, e.end)
			}
			for i := 0; i < len(c); i += e.dtype.size {
				data = append(data, e.dtype.decode(c[i:]))
			}
			rem -= int64(len(c))
		}
		tensors[e.name] = Tensor{Shape: e.shape, Data: data}
	}
	if k, _ := io.ReadFull(r, chunk[:1]); k != 0 {
		return nil, nil, fmt.Errorf("safetensors: trailing bytes after the %d bytes of data the header describes", dataLen)
	}
	return tensors, meta, nil
}

// parseHeader decodes the JSON header, keeping duplicate names an error.
func parseHeader(h []byte) ([]entry, map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(h))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, errors.New("safetensors: header is not a JSON object")
	}
	meta := map[string]string{}
	var entries []entry
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("safetensors: bad JSON header: %v", err)
		}
		name, _ := tok.(string)
		if seen[name] {
			return nil, nil, fmt.Errorf("safetensors: header lists %q twice", name)
		}
		seen[name] = true
		if name == metadataKey {
			var m map[string]string
			if err := dec.Decode(&m); err != nil {
				return nil, nil, fmt.Errorf("safetensors: __metadata__ must map strings to strings: %v", err)
			}
			for k, v := range m {
				meta[k] = v
			}
			continue
		}
		var info struct {
			Dtype       *string  `json:"dtype"`
			Shape       *[]int64 `json:"shape"`
			DataOffsets *[]int64 `json:"data_offsets"`
		}
		if err := dec.Decode(&info); err != nil {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: bad header entry: %v", name, err)
		}
		if info.Dtype == nil || info.Shape == nil || info.DataOffsets == nil {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: header entry needs dtype, shape and data_offsets", name)
		}
		dt, ok := dtypes[*info.Dtype]
		if !ok {
			if slices.Contains(knownDtypes, *info.Dtype) {
				return nil, nil, fmt.Errorf("safetensors: tensor %q: dtype %s is not supported (only F32, F64, F16, BF16)", name, *info.Dtype)
			}
			return nil, nil, fmt.Errorf("safetensors: tensor %q: unknown dtype %q", name, *info.Dtype)
		}
		shape := make([]int, len(*info.Shape))
		for i, d := range *info.Shape {
			if d < 0 || d > maxElems {
				return nil, nil, fmt.Errorf("safetensors: tensor %q: bad dimension %d in shape %v", name, d, *info.Shape)
			}
			shape[i] = int(d)
		}
		n, err := numel(shape)
		if err != nil {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: %v", name, err)
		}
		off := *info.DataOffsets
		if len(off) != 2 || off[0] < 0 || off[1] < off[0] {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: bad data_offsets %v", name, off)
		}
		if want := int64(n) * int64(dt.size); off[1]-off[0] != want {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: shape %v of %s needs %d bytes but data_offsets %v span %d", name, shape, *info.Dtype, want, off, off[1]-off[0])
		}
		entries = append(entries, entry{name: name, dtype: dt, shape: shape, begin: off[0], end: off[1]})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, nil, fmt.Errorf("safetensors: bad JSON header: %v", err)
	}
	// Only padding may follow the object.
	rest := h[dec.InputOffset():]
	if len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
		return nil, nil, errors.New("safetensors: unexpected bytes after the JSON header object")
	}
	return entries, meta, nil
}

// checkLayout sorts entries by offset and checks that they tile the data
// section [0, total) without gaps or overlaps; it returns total.
func checkLayout(entries []entry) (int64, error) {
	slices.SortStableFunc(entries, func(a, b entry) int {
		if a.begin != b.begin {
			return cmpInt64(a.begin, b.begin)
		}
		return cmpInt64(a.end, b.end)
	})
	var pos int64
	for _, e := range entries {
		if e.begin < pos {
			return 0, fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] overlap the previous tensor (ending at %d)", e.name, e.begin, e.end, pos)
		}
		if e.begin > pos {
			return 0, fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] leave a gap after byte %d", e.name, e.begin, e.end, pos)
		}
		pos = e.end
	}
	return pos, nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// halfToFloat32 converts an IEEE 754 binary16 value exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
	case frac == 0: // ±0
		return math.Float32frombits(sign)
	}
	// subnormal: frac × 2^-24
	v := float32(frac) * (1.0 / (1 << 24))
	if sign != 0 {
		v = -v
	}
	return v
}
