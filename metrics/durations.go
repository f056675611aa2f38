package metrics

import (
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// durationHistogram is gradsweep_iteration_duration_seconds: one histogram
// per sweep, fed in batches. A trial sorts its updates' durations into
// bucket counts of its own (durationBatch) and adds them when it publishes,
// so a weight update costs a bucket search and no atomic operation, and two
// workers do not contend for the histogram's counters on every update.
type durationHistogram struct {
	desc    *prometheus.Desc
	buckets []float64 // upper bounds, ascending

	mu      sync.Mutex
	bySweep map[string]*durationBatch
}

// durationBatch holds observations: counts[i] is how many fell in bucket i
// (upper bound buckets[i]; the last, +Inf), not cumulated.
type durationBatch struct {
	counts []uint64
	sum    float64
	n      uint64
	last   int // bucket of the latest observation: a trial's updates take about as long as each other
}

func newDurationHistogram(name, help string, buckets []float64) *durationHistogram {
	return &durationHistogram{
		desc:    prometheus.NewDesc(name, help, []string{"sweep"}, nil),
		buckets: buckets,
		bySweep: map[string]*durationBatch{},
	}
}

func (h *durationHistogram) newBatch() durationBatch {
	return durationBatch{counts: make([]uint64, len(h.buckets)+1)}
}

// observe adds one duration to b: the bucket is the first upper bound ≥ v
// (the latest observation's, checked first).
func (h *durationHistogram) observe(b *durationBatch, v float64) {
	i := b.last
	if !h.inBucket(i, v) {
		i, _ = slices.BinarySearch(h.buckets, v)
		b.last = i
	}
	b.counts[i]++
	b.sum += v
	b.n++
}

// inBucket tells whether bucket i holds v: buckets[i-1] < v ≤ buckets[i],
// with −∞ before the first and +∞ as the last bucket.
func (h *durationHistogram) inBucket(i int, v float64) bool {
	return (i == 0 || h.buckets[i-1] < v) && (i == len(h.buckets) || v <= h.buckets[i])
}

// add merges b into the sweep's histogram and empties b.
func (h *durationHistogram) add(sweep string, b *durationBatch) {
	if b.n == 0 {
		return
	}
	h.mu.Lock()
	total := h.bySweep[sweep]
	if total == nil {
		nb := h.newBatch()
		total = &nb
		h.bySweep[sweep] = total
	}
	for i, c := range b.counts {
		total.counts[i] += c
	}
	total.sum += b.sum
	total.n += b.n
	h.mu.Unlock()
	clear(b.counts)
	b.sum, b.n = 0, 0
}

// Describe implements prometheus.Collector.
func (h *durationHistogram) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

// Collect implements prometheus.Collector: one histogram per sweep seen.
func (h *durationHistogram) Collect(ch chan<- prometheus.Metric) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sweep, t := range h.bySweep {
		cum := make(map[float64]uint64, len(h.buckets))
		var c uint64
		for i, ub := range h.buckets {
			c += t.counts[i]
			cum[ub] = c
		}
		ch <- prometheus.MustNewConstHistogram(h.desc, t.n, t.sum, cum, sweep)
	}
}
