// Package mat is the small float32 matrix type the training core computes on.
// Storage is row-major; a batch of B samples with F features is a B×F matrix,
// one sample per row, as in PyTorch.
package mat

import "github.com/gradsweep/gradsweep/internal/gemm"

// Matrix is a dense row-major float32 matrix. Data has at least Rows*Cols
// elements; element (i, j) is Data[i*Cols+j].
type Matrix struct {
	Rows, Cols int
	Data       []float32
}

// New returns a zeroed r×c matrix.
func New(r, c int) *Matrix {
	return &Matrix{Rows: r, Cols: c, Data: make([]float32, r*c)}
}

// Resize sets the shape to r×c, reusing the backing array when it is large
// enough, so that a matrix reused across batches allocates only on growth.
// Contents are unspecified afterwards.
func (m *Matrix) Resize(r, c int) {
	n := r * c
	if cap(m.Data) < n {
		m.Data = make([]float32, n)
	}
	m.Data = m.Data[:n]
	m.Rows, m.Cols = r, c
}

// Row returns row i as a slice sharing storage with m.
func (m *Matrix) Row(i int) []float32 { return m.Data[i*m.Cols : (i+1)*m.Cols] }

// At returns element (i, j).
func (m *Matrix) At(i, j int) float32 { return m.Data[i*m.Cols+j] }

// MulABt sets c = a·bᵀ (a is r×k, b is n×k, c becomes r×n): a dense layer's
// forward product with PyTorch's [out, in] weight layout.
func MulABt(c, a, b *Matrix) {
	c.Resize(a.Rows, b.Rows)
	gemm.Sgemm(false, true, a.Rows, b.Rows, a.Cols, a.Data, a.Cols, b.Data, b.Cols, 0, c.Data, c.Cols)
}

// MulAB sets c = a·b (a is r×k, b is k×n).
func MulAB(c, a, b *Matrix) {
	c.Resize(a.Rows, b.Cols)
	gemm.Sgemm(false, false, a.Rows, b.Cols, a.Cols, a.Data, a.Cols, b.Data, b.Cols, 0, c.Data, c.Cols)
}

// MulAtB sets c = aᵀ·b (a is k×r, b is k×n, c becomes r×n) into a flat
// destination of r*n elements: the weight gradient dW = dYᵀ·X.
func MulAtB(c []float32, a, b *Matrix) {
	gemm.Sgemm(true, false, a.Cols, b.Cols, a.Rows, a.Data, a.Cols, b.Data, b.Cols, 0, c, b.Cols)
}
