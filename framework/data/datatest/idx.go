// Package datatest writes data files for tests of the data sources.
package datatest

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
)

// WriteIDX writes a gzipped IDX file, as MNIST ships them: the big-endian
// magic number, the dimensions, then the payload as it is.
func WriteIDX(path string, magic uint32, dims []uint32, payload []byte) error {
	var raw bytes.Buffer
	binary.Write(&raw, binary.BigEndian, magic)
	for _, d := range dims {
		binary.Write(&raw, binary.BigEndian, d)
	}
	raw.Write(payload)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, gz.Bytes(), 0o644)
}
