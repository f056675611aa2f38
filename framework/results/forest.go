package results

import (
	"cmp"
	"math/rand/v2"
	"slices"
)

// forest is a regression random forest as scikit-learn's
// RandomForestRegressor with Optuna's fANOVA settings: each tree is grown
// on a bootstrap sample of the rows, splitting on whichever feature and
// threshold (the midpoint between two consecutive values) lowers the
// squared error most, until a node is pure, holds one row, or reaches
// maxDepth. It is deterministic: the bootstrap samples come from a PCG
// seeded with seed, and ties between splits go to the first feature and
// the lowest threshold. Trees are grown and evaluated one at a time, so
// memory is one tree and the table, whatever the number of trees.
type forest struct {
	trees, maxDepth int
	seed            uint64
}

type node struct {
	feature     int // -1 for a leaf
	threshold   float64
	left, right int32
	value       float64
}

// predictGrid fits the forest to rows x with targets y and writes into
// table (of g.size() cells, mixed radix, first factor slowest) the mean
// prediction of the trees at each cell of g.
func (f forest) predictGrid(x [][]float64, y []float64, g *evalGrid, table []float64) {
	rng := rand.New(rand.NewPCG(f.seed, 0x9e3779b97f4a7c15))
	d := len(g.levels)
	point := make([]float64, d)
	idx := make([]int, len(y))
	for range f.trees {
		for i := range idx {
			idx[i] = rng.IntN(len(y))
		}
		b := builder{x: x, y: y, maxDepth: f.maxDepth}
		b.grow(idx, 0)
		for c := range table {
			r := c
			for i := d - 1; i >= 0; i-- {
				n := len(g.levels[i])
				point[i] = g.levels[i][r%n]
				r /= n
			}
			table[c] += b.predict(point)
		}
	}
	for c := range table {
		table[c] /= float64(f.trees)
	}
}

type builder struct {
	x        [][]float64
	y        []float64
	maxDepth int
	nodes    []node
}

// grow adds the subtree of the rows idx (which it may reorder) and returns
// its node's index.
func (b *builder) grow(idx []int, depth int) int32 {
	me := int32(len(b.nodes))
	sum := 0.0
	for _, r := range idx {
		sum += b.y[r]
	}
	b.nodes = append(b.nodes, node{feature: -1, value: sum / float64(len(idx))})
	if len(idx) < 2 || depth >= b.maxDepth {
		return me
	}
	feature, threshold, ok := b.bestSplit(idx, sum)
	if !ok {
		return me
	}
	var left, right []int
	for _, r := range idx {
		if b.x[r][feature] <= threshold {
			left = append(left, r)
		} else {
			right = append(right, r)
		}
	}
	l := b.grow(left, depth+1)
	r := b.grow(right, depth+1)
	b.nodes[me].feature, b.nodes[me].threshold, b.nodes[me].left, b.nodes[me].right = feature, threshold, l, r
	return me
}

// bestSplit finds the split of idx that lowers the squared error most
// (maximises sumL²/nL + sumR²/nR); none when no split lowers it.
func (b *builder) bestSplit(idx []int, sum float64) (feature int, threshold float64, ok bool) {
	n := float64(len(idx))
	best := sum * sum / n * (1 + 1e-12) // a split must beat the unsplit node by more than rounding
	sorted := slices.Clone(idx)
	for f := range b.x[idx[0]] {
		slices.SortStableFunc(sorted, func(p, q int) int { return cmp.Compare(b.x[p][f], b.x[q][f]) })
		left := 0.0
		for k := 0; k < len(sorted)-1; k++ {
			left += b.y[sorted[k]]
			lo, hi := b.x[sorted[k]][f], b.x[sorted[k+1]][f]
			if lo == hi {
				continue
			}
			nl := float64(k + 1)
			right := sum - left
			if score := left*left/nl + right*right/(n-nl); score > best {
				best, feature, threshold, ok = score, f, lo+(hi-lo)/2, true
			}
		}
	}
	return feature, threshold, ok
}

func (b *builder) predict(x []float64) float64 {
	i := int32(0)
	for {
		nd := &b.nodes[i]
		if nd.feature < 0 {
			return nd.value
		}
		if x[nd.feature] <= nd.threshold {
			i = nd.left
		} else {
			i = nd.right
		}
	}
}
