package sqlite

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/gradsweep/gradsweep/framework"
)

// A trial's recorded batch losses are kept in memory and stored in
// chunks: at the end of an epoch when chunkEvery has passed since the
// trial's last chunk, every chunkPoints losses, and when the trial ends.
// A short trial is one row; a long one is visible to readers as it goes,
// and memory stays bounded.
const (
	chunkPoints = 1024
	chunkEvery  = time.Second
)

// lossChunk is one batch_loss_chunks row: recorded updates of one trial,
// iterations ascending.
type lossChunk struct {
	trial  string
	points []framework.IterationStats
}

// splitChunks cuts a trial's recorded losses (iterations ascending) into
// chunks of at most chunkPoints.
func splitChunks(trial string, pts []framework.IterationStats) []lossChunk {
	var out []lossChunk
	for len(pts) > 0 {
		n := min(len(pts), chunkPoints)
		out = append(out, lossChunk{trial: trial, points: pts[:n:n]})
		pts = pts[n:]
	}
	return out
}

// mergeIterations merges two lists of updates, each ascending by
// iteration and with no iteration in both, into a new ascending list.
func mergeIterations(a, b []framework.IterationStats) []framework.IterationStats {
	out := make([]framework.IterationStats, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0].Iteration < b[0].Iteration {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// qLossChunk stores a chunk; its arguments are lossChunk.args.
const qLossChunk = `INSERT OR REPLACE INTO batch_loss_chunks (trial, iteration, points, losses) VALUES (?, ?, ?, ?)`

// args are qLossChunk's arguments; buf is scratch space for the JSON.
func (c *lossChunk) args(buf *[]byte) []any {
	*buf = appendLosses((*buf)[:0], c.points)
	// a string, not []byte: the driver would store bytes as a BLOB, which
	// SQLite's JSON functions refuse
	return []any{c.trial, c.points[0].Iteration, len(c.points), string(*buf)}
}

// appendLosses appends the JSON array [[iteration, epoch, batch_size,
// seconds, loss, learning_rate], ...] of pts (learning_rate null when it
// was not recorded). Floats are written in the shortest form
// that reads back to the same float64, always with a '.' or an exponent; a
// non-finite loss is the string "NaN", "+Inf" or "-Inf".
func appendLosses(buf []byte, pts []framework.IterationStats) []byte {
	buf = append(buf, '[')
	for i, p := range pts {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '[')
		buf = strconv.AppendInt(buf, int64(p.Iteration), 10)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(p.Epoch), 10)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(p.BatchSize), 10)
		buf = append(buf, ',')
		buf = appendJSONFloat(buf, p.Seconds)
		buf = append(buf, ',')
		if _, nf := realOrNull(p.Loss); nf != nil {
			buf = strconv.AppendQuote(buf, nf.(string))
		} else {
			buf = appendJSONFloat(buf, p.Loss)
		}
		buf = append(buf, ',')
		if lr := p.LearningRate; lr > 0 && !math.IsInf(lr, 1) {
			buf = appendJSONFloat(buf, lr)
		} else {
			buf = append(buf, "null"...) // not recorded
		}
		buf = append(buf, ']')
	}
	return append(buf, ']')
}

// appendJSONFloat appends finite f as a JSON number (a non-finite one,
// which JSON cannot hold, as 0.0: seconds are always finite).
func appendJSONFloat(buf []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		f = 0
	}
	n := len(buf)
	buf = strconv.AppendFloat(buf, f, 'g', -1, 64)
	for _, c := range buf[n:] {
		if c == '.' || c == 'e' {
			return buf
		}
	}
	return append(buf, '.', '0') // an integral value: written as a float, so it reads back as one
}

// parseLosses reads a losses column written by appendLosses (or by anyone
// following its format); points stored before schema version 5 have no
// learning rate (NaN).
func parseLosses(text string) ([]framework.IterationStats, error) {
	var rows [][]json.RawMessage
	if err := json.Unmarshal([]byte(text), &rows); err != nil {
		return nil, fmt.Errorf("losses: %w", err)
	}
	out := make([]framework.IterationStats, len(rows))
	for i, r := range rows {
		if len(r) != 5 && len(r) != 6 {
			return nil, fmt.Errorf("losses[%d]: %d values, want [iteration, epoch, batch_size, seconds, loss, learning_rate]", i, len(r))
		}
		p := &out[i]
		p.LearningRate = math.NaN()
		if len(r) == 6 && string(r[5]) != "null" {
			var err error
			if p.LearningRate, err = parseJSONNumber(r[5]); err != nil {
				return nil, fmt.Errorf("losses[%d] learning_rate: %w", i, err)
			}
		}
		for k, dst := range [...]*int{&p.Iteration, &p.Epoch, &p.BatchSize} {
			v, err := strconv.Atoi(string(r[k]))
			if err != nil {
				return nil, fmt.Errorf("losses[%d][%d]: %w", i, k, err)
			}
			*dst = v
		}
		var err error
		if p.Seconds, err = parseJSONNumber(r[3]); err != nil {
			return nil, fmt.Errorf("losses[%d] seconds: %w", i, err)
		}
		if len(r[4]) > 0 && r[4][0] == '"' {
			var s string
			if err := json.Unmarshal(r[4], &s); err != nil {
				return nil, fmt.Errorf("losses[%d] loss: %w", i, err)
			}
			if p.Loss, err = fromNonfinite(s); err != nil {
				return nil, fmt.Errorf("losses[%d] loss: %w", i, err)
			}
		} else if p.Loss, err = parseJSONNumber(r[4]); err != nil {
			return nil, fmt.Errorf("losses[%d] loss: %w", i, err)
		}
	}
	return out, nil
}

// parseJSONNumber reads a JSON number exactly (strconv rounds correctly).
func parseJSONNumber(raw json.RawMessage) (float64, error) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, err
	}
	return strconv.ParseFloat(string(n), 64)
}
