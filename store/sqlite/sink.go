package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/gradsweep/gradsweep/framework"
)

var _ framework.Sink = (*Store)(nil)

type opKind uint8

const (
	opSweepStarted opKind = iota
	opSweepFinished
	opTrialStarted
	opSeries
	opTrialFinished
	opFlush
)

// Which epoch metrics an op stores.
const (
	mTrainLoss = 1 << iota
	mValLoss
	mTrainAcc
	mValAcc
)

// op is one queued write. Rare, large payloads hang off x so the queue
// stays small.
type op struct {
	kind   opKind
	mask   uint8 // opTrialFinished: metrics that apply
	trial  string
	at     time.Time
	series // finished epochs and recorded batch losses, stored before the op itself
	x      *opExtra
	done   chan error // sync ops: the commit's result
}

type opExtra struct {
	info  framework.SweepInfo
	plans []framework.TrialPlan
	out   framework.TrialOutcome
}

// applies records, per running trial, which optional metrics have shown to
// apply: a NaN of a metric that applies is stored explicitly, a NaN of one
// that does not (val_* without a validation split, accuracy for
// regression) is not stored.
type applies struct{ val, cls bool }

func (a *applies) see(e framework.EpochStats) {
	a.val = a.val || !math.IsNaN(e.ValLoss) || !math.IsNaN(e.ValAccuracy)
	a.cls = a.cls || !math.IsNaN(e.TrainAccuracy) || !math.IsNaN(e.ValAccuracy)
}

func (a *applies) mask() uint8 {
	m := uint8(mTrainLoss)
	if a.val {
		m |= mValLoss
	}
	if a.cls {
		m |= mTrainAcc
	}
	if a.val && a.cls {
		m |= mValAcc
	}
	return m
}

// series is a trial's finished epochs, recorded batch losses and layer
// statistics.
type series struct {
	epochs []epochRow
	losses []framework.IterationStats
	layers []framework.LayerPoint
}

// epochRow is an epoch and which of its metrics apply (a mask of m*).
type epochRow struct {
	framework.EpochStats
	mask uint8
}

// recording is what the Store keeps of a trial between its events.
type recording struct {
	applies
	series           // not queued yet
	since  time.Time // when the series started to gather
	start  time.Time // TrialStarted
	// tail holds the last updates the thinning dropped, stored if the
	// trial diverges (nil until thinning drops one). Only the trial's
	// recorder writes to it, and TrialFinished, which comes after the
	// trial's last update, reads it.
	tail *lossTail
	// claimed: this Store claimed the trial and it has not started; the
	// claim already did what TrialStarted writes.
	claimed bool
}

// recordingOf returns id's recording, creating it; the caller holds recMu.
func (s *Store) recordingOf(id string) *recording {
	r := s.recordings[id]
	if r == nil {
		r = &recording{}
		s.recordings[id] = r
	}
	return r
}

// take hands over the trial's gathered series.
func (r *recording) take(now time.Time) series {
	l := r.series
	r.series, r.since = series{}, now
	return l
}

// send queues o, waiting for room when the queue is full: nothing given to
// the store is dropped (back-pressure slows training instead; experiments
// thin per-iteration losses with record.batch_loss_every).
func (s *Store) send(o op) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.readOnly {
		s.setErr(ErrReadOnly)
		return false
	}
	if s.closed {
		s.setErr(errors.New("write after Close"))
		return false
	}
	s.ops <- o
	return true
}

// sendWait queues o and waits for its transaction to commit.
func (s *Store) sendWait(o op) error {
	o.done = make(chan error, 1)
	if !s.send(o) {
		return fmt.Errorf("sqlite store %s: closed", s.path)
	}
	return <-o.done
}

// SweepStarted records the start of a run: it bumps updated_at, and if the
// sweep is not stored yet (PrepareSweep was not called) it stores it with
// its trials as pending. A sweep stored with another config hash is left
// alone and the mismatch is reported by Err.
func (s *Store) SweepStarted(info framework.SweepInfo, trials []framework.TrialPlan) {
	s.send(op{kind: opSweepStarted, at: s.now(), x: &opExtra{info: info, plans: trials}})
}

// SweepFinished bumps the sweep's updated_at and flushes.
func (s *Store) SweepFinished(info framework.SweepInfo, _ framework.SweepSummary) {
	s.sendWait(op{kind: opSweepFinished, at: s.now(), x: &opExtra{info: info}})
}

// TrialStarted marks the trial running, owned by this Store, and clears the
// series and outcome of an earlier attempt. For a trial this Store has
// just claimed, Claim did all that in its transaction and nothing is
// written.
func (s *Store) TrialStarted(t *framework.TrialPlan) {
	now := s.now()
	s.recMu.Lock()
	r := s.recordingOf(t.ID)
	claimed := r.claimed
	*r = recording{since: now, start: now}
	s.recMu.Unlock()
	if !claimed {
		s.send(op{kind: opTrialStarted, trial: t.ID, at: now})
	}
}

// DivergenceTail is how many updates, up to and including the diverging
// one, a diverged trial keeps whatever its thinning
// (record.batch_loss_every), so that the run-up to a divergence can be
// read.
const DivergenceTail = 32

// lossTail is a ring of the last DivergenceTail updates the thinning
// dropped.
type lossTail struct {
	buf [DivergenceTail]framework.IterationStats
	n   int // updates ever pushed
}

func (t *lossTail) push(st framework.IterationStats) {
	t.buf[t.n%DivergenceTail] = st
	t.n++
}

// after returns the held updates of iterations > it, ascending.
func (t *lossTail) after(it int) []framework.IterationStats {
	var out []framework.IterationStats
	for k := max(0, t.n-DivergenceTail); k < t.n; k++ {
		if st := t.buf[k%DivergenceTail]; st.Iteration > it {
			out = append(out, st)
		}
	}
	return out
}

// tailOf returns the trial's ring of dropped updates, creating it; the
// caller holds recMu.
func (s *Store) tailOf(id string) *lossTail {
	r := s.recordingOf(id)
	if r.tail == nil {
		r.tail = &lossTail{}
	}
	return r.tail
}

// Iteration records a batch loss, thinned as the plan says
// (TrialPlan.BatchLossEvery): the first and any non-finite loss always,
// and the last DivergenceTail updates of a trial that diverges.
// Recorded losses are buffered and stored in chunks (see chunkEvery).
func (s *Store) Iteration(t *framework.TrialPlan, st framework.IterationStats) {
	every := t.BatchLossEvery
	finite := !math.IsNaN(st.Loss) && !math.IsInf(st.Loss, 0)
	if finite && (every < 0 || every > 1 && (st.Iteration-1)%every != 0) {
		s.recMu.Lock()
		s.tailOf(t.ID).push(st)
		s.recMu.Unlock()
		return
	}
	s.record(t.ID, []framework.IterationStats{st})
}

var _ framework.IterationSink = (*Store)(nil)

// IterationRecorder is Iteration for t's trial, taking updates in batches,
// with the thinning kept as the next iteration to record rather than a
// division per update. It reads t.BatchLossEvery when it first needs it,
// so the plan may set it after TrialStarted.
func (s *Store) IterationRecorder(t *framework.TrialPlan) func([]framework.IterationStats) {
	next := 1                           // the next iteration whose finite loss is recorded
	var keep []framework.IterationStats // scratch: the batch's recorded updates
	var tail *lossTail                  // the dropped updates, in case the trial diverges
	drop := func(st framework.IterationStats) {
		if tail == nil {
			s.recMu.Lock()
			tail = s.tailOf(t.ID)
			s.recMu.Unlock()
		}
		tail.push(st)
	}
	return func(updates []framework.IterationStats) {
		keep = keep[:0]
		for _, st := range updates {
			if !math.IsNaN(st.Loss) && !math.IsInf(st.Loss, 0) {
				if st.Iteration < next {
					drop(st)
					continue
				}
				switch every := t.BatchLossEvery; {
				case every < 0:
					next = math.MaxInt
					drop(st)
					continue
				case every <= 1:
					next = st.Iteration + 1
				case (st.Iteration-1)%every != 0:
					next = st.Iteration + every - (st.Iteration-1)%every
					drop(st)
					continue
				default:
					next = st.Iteration + every
				}
			}
			keep = append(keep, st)
		}
		if len(keep) > 0 {
			s.record(t.ID, keep)
		}
	}
}

// record buffers batch losses to store, sending the trial's series each
// time chunkPoints of them have gathered.
func (s *Store) record(id string, losses []framework.IterationStats) {
	var full []series
	s.recMu.Lock()
	r := s.recordingOf(id)
	for len(losses) > 0 {
		n := min(len(losses), chunkPoints-len(r.losses))
		r.losses = append(r.losses, losses[:n]...)
		losses = losses[n:]
		if len(r.losses) == chunkPoints {
			full = append(full, r.take(s.now()))
		}
	}
	s.recMu.Unlock()
	for _, ser := range full {
		s.send(op{kind: opSeries, trial: id, series: ser})
	}
}

// Epoch records an epoch's metrics (those that apply). Like batch losses,
// epochs are gathered and stored together: at an epoch's end once
// chunkEvery has passed since the trial's last write, and when it finishes.
func (s *Store) Epoch(t *framework.TrialPlan, st framework.EpochStats) {
	now := s.now()
	s.recMu.Lock()
	r := s.recordingOf(t.ID)
	r.see(st)
	r.epochs = append(r.epochs, epochRow{st, r.mask()})
	due := now.Sub(r.since) >= chunkEvery
	var ser series
	if due {
		ser = r.take(now)
	}
	s.recMu.Unlock()
	if due {
		s.send(op{kind: opSeries, trial: t.ID, series: ser})
	}
}

var _ framework.LayerSink = (*Store)(nil)

// LayerStats records the layer statistics of an update. They are
// gathered and stored with the trial's epochs.
func (s *Store) LayerStats(t *framework.TrialPlan, iteration int, stats []framework.LayerStats) {
	s.recMu.Lock()
	r := s.recordingOf(t.ID)
	for _, st := range stats {
		r.layers = append(r.layers, framework.LayerPoint{Iteration: iteration, LayerStats: st})
	}
	s.recMu.Unlock()
}

// TrialFinished queues the trial's outcome, with the batch losses of an
// epoch it did not finish (it diverged, or was stopped), and for a
// diverged trial the last DivergenceTail updates up to the diverging one
// that the thinning dropped; it is committed
// with the next batch (within flushEvery), and Flush or Close wait for it.
// Not waiting here keeps a commit round trip off every trial: a process
// killed in that window leaves the trial "running" under a dead owner, so
// the next run trains it again, with the same seed and the same result.
func (s *Store) TrialFinished(t *framework.TrialPlan, o framework.TrialOutcome) {
	s.recMu.Lock()
	r := s.recordingOf(t.ID)
	r.see(o.Result.Final)
	fin := op{kind: opTrialFinished, trial: t.ID, at: r.start, mask: r.mask(), series: r.series, x: &opExtra{out: o}}
	if d := o.Result.DivergedIteration; d > 0 && r.tail != nil {
		fin.series.losses = mergeIterations(r.losses, r.tail.after(d-DivergenceTail))
	}
	delete(s.recordings, t.ID)
	s.recMu.Unlock()
	s.send(fin)
}

// Flush commits every write queued so far, and the epochs and batch losses
// gathered for trials still running, and returns Err.
func (s *Store) Flush() error {
	now := s.now()
	s.recMu.Lock()
	var pending []op
	for id, r := range s.recordings {
		if len(r.losses) > 0 || len(r.epochs) > 0 || len(r.layers) > 0 {
			pending = append(pending, op{kind: opSeries, trial: id, series: r.take(now)})
		}
	}
	s.recMu.Unlock()
	for _, o := range pending {
		s.send(o)
	}
	if err := s.sendWait(op{kind: opFlush}); err != nil {
		return err
	}
	return s.Err()
}

// writer is the one goroutine that writes Sink events: it gathers ops for
// up to flushEvery (or maxBatch ops, or until a sync op) and writes them in
// one transaction.
func (s *Store) writer() {
	defer close(s.done)
	batch := make([]op, 0, maxBatch) // its full size from the start: the writer's memory does not creep up with the backlog
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		o, ok := <-s.ops
		if !ok {
			return
		}
		batch = append(batch[:0], o)
		sync := o.done != nil
		timer.Reset(flushEvery)
	gather:
		for !sync && len(batch) < maxBatch {
			select {
			case o, ok := <-s.ops:
				if !ok {
					break gather
				}
				batch = append(batch, o)
				sync = o.done != nil
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		err := s.writeBatch(batch)
		if err != nil {
			s.setErr(err)
		}
		for _, o := range batch {
			if o.done != nil {
				o.done <- err
			}
		}
		clear(batch) // the array is reused: keep no finished trial's outcome and series alive
	}
}

func isBusy(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked)
}

// writeBatch writes ops in one transaction, retrying a few times if the
// database stays locked past the busy timeout. An op that fails (say, a
// trial that is not stored) is reported by Err and skipped; the others are
// written.
func (s *Store) writeBatch(batch []op) error {
	return retryBusy(func() error { return s.tryBatch(batch) })
}

func (s *Store) tryBatch(batch []op) error {
	tx, err := s.w.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st := map[string]*sql.Stmt{}
	exec := func(q string, args ...any) error {
		p := st[q]
		if p == nil {
			var err error
			if p, err = tx.Prepare(q); err != nil {
				return err
			}
			st[q] = p
		}
		_, err := p.Exec(args...)
		return err
	}
	for i := range batch {
		o := &batch[i]
		err := s.storeSeries(exec, o.trial, &o.series)
		if err == nil {
			err = s.apply(tx, exec, o)
		}
		if err != nil {
			if isBusy(err) {
				return err
			}
			s.setErr(err)
		}
	}
	return tx.Commit()
}

// storeSeries writes a trial's epochs, up to epochsPerInsert rows to a
// statement, and its recorded batch losses as chunks.
func (s *Store) storeSeries(exec func(string, ...any) error, trial string, ser *series) error {
	for e := ser.epochs; len(e) > 0; {
		n := min(len(e), epochsPerInsert)
		args := make([]any, 0, n*epochColumns)
		for i := range e[:n] {
			args = appendEpochArgs(args, trial, &e[i].EpochStats, e[i].mask)
		}
		if err := exec(qEpochs(n), args...); err != nil {
			return fmt.Errorf("trial %s: epochs: %w", trial, err)
		}
		e = e[n:]
	}
	for _, c := range splitChunks(trial, ser.losses) {
		if err := exec(qLossChunk, c.args(&s.jsonBuf)...); err != nil {
			return fmt.Errorf("trial %s: batch losses: %w", trial, err)
		}
	}
	for _, l := range ser.layers {
		if err := exec(qLayerStats, trial, l.Iteration, l.Layer, finiteOrNull(l.GradNorm), finiteOrNull(l.WeightNorm),
			finiteOrNull(l.UpdateRatio), finiteOrNull(l.DeadFraction)); err != nil {
			return fmt.Errorf("trial %s: layer stats: %w", trial, err)
		}
	}
	return nil
}

const qLayerStats = `INSERT OR REPLACE INTO layer_stats (trial, iteration, layer, grad_norm, weight_norm, update_ratio, dead_fraction)
	VALUES (?, ?, ?, ?, ?, ?, ?)`

// finiteOrNull is v, or NULL when v is not finite.
func finiteOrNull(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

// epochsPerInsert is how many epochs one INSERT carries (epochColumns
// parameters each, well under SQLite's limit of 32,766).
const (
	epochsPerInsert = 64
	epochColumns    = 15
)

// qEpochs is the INSERT of n epochs, made once per n.
func qEpochs(n int) string {
	if q, ok := epochInserts.Load(n); ok {
		return q.(string)
	}
	tuple := "(" + strings.Repeat("?, ", epochColumns-1) + "?)"
	q := qEpoch + strings.Repeat(", "+tuple, n-1)
	epochInserts.Store(n, q)
	return q
}

var epochInserts sync.Map // n → qEpochs(n)

const qEpoch = `INSERT OR REPLACE INTO epochs (trial, epoch, iteration, samples, seconds, epoch_seconds,
	train_loss, train_loss_nonfinite, val_loss, val_loss_nonfinite,
	train_accuracy, train_accuracy_nonfinite, val_accuracy, val_accuracy_nonfinite, learning_rate)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// appendEpochArgs appends the epochColumns values of one epoch's row: a NaN
// metric whose mask bit is clear does not apply and is stored as (NULL,
// NULL).
func appendEpochArgs(args []any, trial string, e *framework.EpochStats, mask uint8) []any {
	args = append(args, trial, e.Epoch, e.Iteration, e.Samples, e.Seconds, e.EpochSeconds)
	for _, m := range [...]struct {
		bit uint8
		v   float64
	}{{mTrainLoss, e.TrainLoss}, {mValLoss, e.ValLoss}, {mTrainAcc, e.TrainAccuracy}, {mValAcc, e.ValAccuracy}} {
		v, nf := absentOrReal(m.v, mask&m.bit != 0)
		args = append(args, v, nf)
	}
	var lr any // NULL when unknown (a trial trained before rates were recorded)
	if !math.IsNaN(e.LearningRate) && e.LearningRate != 0 {
		lr = e.LearningRate
	}
	return append(args, lr)
}

func (s *Store) apply(tx *sql.Tx, exec func(string, ...any) error, o *op) error {
	switch o.kind {
	case opFlush, opSeries:
		return nil
	case opTrialStarted:
		if err := clearSeries(exec, o.trial); err != nil {
			return err
		}
		res, err := tx.Exec(`UPDATE trials SET state = 'running', owner = ?, started_at = ?, `+clearOutcome+` WHERE id = ?`,
			s.owner, timeText(o.at), o.trial)
		return checkOne(res, err, o.trial)
	case opTrialFinished:
		return s.applyFinished(tx, o)
	case opSweepStarted:
		return s.applySweepStarted(tx, o)
	case opSweepFinished:
		_, err := tx.Exec(`UPDATE sweeps SET updated_at = ? WHERE name = ?`, timeText(o.at), o.x.info.Name)
		return err
	}
	return fmt.Errorf("unknown op %d", o.kind)
}

// clearSeries deletes a trial's epochs, batch losses and layer statistics (of an earlier
// attempt).
func clearSeries(exec func(string, ...any) error, trial string) error {
	if err := exec(`DELETE FROM epochs WHERE trial = ?`, trial); err != nil {
		return err
	}
	if err := exec(`DELETE FROM batch_loss_chunks WHERE trial = ?`, trial); err != nil {
		return err
	}
	return exec(`DELETE FROM layer_stats WHERE trial = ?`, trial)
}

// clearOutcome resets a trial's outcome columns.
const clearOutcome = `ended_at = NULL, error = NULL, stop_reason = NULL, seconds = NULL, epochs = NULL,
	iterations = NULL, samples = NULL, final_epoch = NULL, final_iteration = NULL, final_samples = NULL,
	final_seconds = NULL, final_epoch_seconds = NULL,
	final_train_loss = NULL, final_train_loss_nonfinite = NULL, final_val_loss = NULL, final_val_loss_nonfinite = NULL,
	final_train_accuracy = NULL, final_train_accuracy_nonfinite = NULL,
	final_val_accuracy = NULL, final_val_accuracy_nonfinite = NULL,
	best_val_loss = NULL, best_val_loss_nonfinite = NULL, diverged_iteration = NULL,
	last_finite_loss = NULL, last_finite_loss_nonfinite = NULL, time_to_target = NULL, time_to_target_nonfinite = NULL`

func checkOne(res sql.Result, err error, id string) error {
	if err != nil {
		return fmt.Errorf("trial %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("trial %s: %w (was its sweep prepared?)", id, ErrNotFound)
	}
	return nil
}

func (s *Store) applyFinished(tx *sql.Tx, o *op) error {
	out := &o.x.out
	r := &out.Result
	f := &r.Final
	state := out.Status
	if state == "" {
		state = r.Status
	}
	ended := out.Ended
	if ended.IsZero() {
		ended = s.now()
	}
	var errText any
	if out.Error != "" {
		errText = out.Error
	}
	var stop any
	if r.StopReason != "" {
		stop = r.StopReason
	}
	ttt := r.TimeToTarget()
	args := []any{string(state), errText, stop, timeText(ended), r.Seconds, r.Epochs, r.Iterations, r.Samples,
		f.Epoch, f.Iteration, f.Samples, f.Seconds, f.EpochSeconds}
	mask := o.mask
	if f.Epoch == 0 {
		mask = 0 // no last epoch: its NaN metrics are absent, not computed
	}
	for _, m := range [...]struct {
		v       float64
		applies bool
	}{
		{f.TrainLoss, mask&mTrainLoss != 0},
		{f.ValLoss, mask&mValLoss != 0},
		{f.TrainAccuracy, mask&mTrainAcc != 0},
		{f.ValAccuracy, mask&mValAcc != 0},
		{r.BestValLoss, false},    // NaN: no validation loss recorded
		{r.LastFiniteLoss, false}, // NaN: none before divergence
		{ttt, false},              // NaN: target not reached
	} {
		v, nf := absentOrReal(m.v, m.applies)
		args = append(args, v, nf)
	}
	// started_at: when it started training (a trial claimed ahead was
	// stamped when claimed)
	args = append(args, r.DivergedIteration, timeText(o.at), o.trial)
	res, err := tx.Exec(`UPDATE trials SET state = ?, error = ?, stop_reason = ?, ended_at = ?,
		seconds = ?, epochs = ?, iterations = ?, samples = ?,
		final_epoch = ?, final_iteration = ?, final_samples = ?, final_seconds = ?, final_epoch_seconds = ?,
		final_train_loss = ?, final_train_loss_nonfinite = ?, final_val_loss = ?, final_val_loss_nonfinite = ?,
		final_train_accuracy = ?, final_train_accuracy_nonfinite = ?,
		final_val_accuracy = ?, final_val_accuracy_nonfinite = ?,
		best_val_loss = ?, best_val_loss_nonfinite = ?, last_finite_loss = ?, last_finite_loss_nonfinite = ?,
		time_to_target = ?, time_to_target_nonfinite = ?, diverged_iteration = ?,
		started_at = coalesce(?, started_at)
		WHERE id = ?`, args...)
	return checkOne(res, err, o.trial)
}

func (s *Store) applySweepStarted(tx *sql.Tx, o *op) error {
	info := &o.x.info
	var hash string
	err := tx.QueryRow(`SELECT config_hash FROM sweeps WHERE name = ?`, info.Name).Scan(&hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return insertSweep(tx, info, o.x.plans, o.at)
	case err != nil:
		return err
	case hash != info.ConfigHash:
		return configChanged(info.Name, hash, info.ConfigHash, "")
	}
	if _, err := insertMissingTrials(tx, info.Name, o.x.plans); err != nil {
		return err
	}
	_, err = tx.Exec(`UPDATE sweeps SET updated_at = ? WHERE name = ?`, timeText(o.at), info.Name)
	return err
}
