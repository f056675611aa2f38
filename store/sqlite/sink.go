package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
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
	opIteration
	opEpoch
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
	kind  opKind
	mask  uint8 // opEpoch: metrics to store; opTrialFinished: metrics that apply
	trial string
	at    time.Time
	it    framework.IterationStats
	ep    framework.EpochStats
	x     *opExtra
	done  chan error // sync ops: the commit's result
}

type opExtra struct {
	info   framework.SweepInfo
	plans  []framework.TrialPlan
	out    framework.TrialOutcome
	header bool
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

func (s *Store) trialApplies(id string, e *framework.EpochStats, forget bool) uint8 {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	a := s.applies[id]
	if a == nil {
		a = &applies{}
		s.applies[id] = a
	}
	if e != nil {
		a.see(*e)
	}
	m := a.mask()
	if forget {
		delete(s.applies, id)
	}
	return m
}

// send queues o, waiting for room when the queue is full: nothing given to
// the store is dropped (back-pressure slows training instead; experiments
// thin per-iteration losses with record.batch_loss_every).
func (s *Store) send(o op) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
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
// series and outcome of an earlier attempt.
func (s *Store) TrialStarted(t *framework.TrialPlan) {
	s.trialApplies(t.ID, nil, true)
	s.send(op{kind: opTrialStarted, trial: t.ID, at: s.now()})
}

// Iteration stores a batch loss, thinned as the plan says
// (TrialPlan.BatchLossEvery): the first and any non-finite loss always.
func (s *Store) Iteration(t *framework.TrialPlan, st framework.IterationStats) {
	every := t.BatchLossEvery
	finite := !math.IsNaN(st.Loss) && !math.IsInf(st.Loss, 0)
	if finite && (every < 0 || every > 1 && (st.Iteration-1)%every != 0) {
		return
	}
	s.send(op{kind: opIteration, trial: t.ID, it: st})
}

// Epoch stores an epoch's metrics, one row per metric that applies.
func (s *Store) Epoch(t *framework.TrialPlan, st framework.EpochStats) {
	m := s.trialApplies(t.ID, &st, false)
	s.send(op{kind: opEpoch, trial: t.ID, ep: st, mask: m})
}

// TrialFinished queues the trial's outcome; it is committed with the next
// batch (within flushEvery), and Flush or Close wait for it. Not waiting
// here keeps a commit round trip off every trial: a process killed in that
// window leaves the trial "running" under a dead owner, so the next run
// trains it again, with the same seed and the same result.
func (s *Store) TrialFinished(t *framework.TrialPlan, o framework.TrialOutcome) {
	m := s.trialApplies(t.ID, &o.Result.Final, true)
	s.send(op{kind: opTrialFinished, trial: t.ID, mask: m, x: &opExtra{out: o}})
}

// Flush commits every write queued so far and returns Err.
func (s *Store) Flush() error {
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
	batch := make([]op, 0, 256)
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
	// Batch losses and epoch metrics are buffered and written rowsPerInsert
	// rows to a statement; any other op first flushes them, so ops keep
	// their order (a restarted trial's DELETE comes before its new rows).
	losses := newRowInserter(qBatchLoss, 7)
	metrics := newRowInserter(qEpochMetric, 9)
	flush := func() error {
		if err := losses.flush(exec); err != nil {
			return err
		}
		return metrics.flush(exec)
	}
	for i := range batch {
		o := &batch[i]
		var err error
		switch o.kind {
		case opIteration:
			v, nf := realOrNull(o.it.Loss)
			err = losses.add(exec, o.trial, o.it.Iteration, o.it.Epoch, o.it.BatchSize, o.it.Seconds, v, nf)
		case opEpoch:
			e := &o.ep
			for _, m := range [...]struct {
				bit  uint8
				name string
				v    float64
			}{{mTrainLoss, "train_loss", e.TrainLoss}, {mValLoss, "val_loss", e.ValLoss},
				{mTrainAcc, "train_accuracy", e.TrainAccuracy}, {mValAcc, "val_accuracy", e.ValAccuracy}} {
				if o.mask&m.bit == 0 && math.IsNaN(m.v) {
					continue
				}
				v, nf := realOrNull(m.v)
				if err = metrics.add(exec, o.trial, e.Epoch, e.Iteration, e.Samples, e.Seconds, e.EpochSeconds, m.name, v, nf); err != nil {
					break
				}
			}
		default:
			if err = flush(); err == nil {
				err = s.apply(tx, exec, o)
			}
		}
		if err != nil {
			if isBusy(err) {
				return err
			}
			s.setErr(err)
		}
	}
	if err := flush(); err != nil {
		if isBusy(err) {
			return err
		}
		s.setErr(err)
	}
	return tx.Commit()
}

// rowsPerInsert is how many rows one INSERT statement carries (at most
// 9 parameters each, well under SQLite's limit of 32,766): one statement
// execution instead of one per row.
const rowsPerInsert = 64

// rowInserter buffers the rows of one INSERT and writes them
// rowsPerInsert to a statement (the rest one by one at flush).
type rowInserter struct {
	one, many string
	width     int
	args      []any
}

// newRowInserter takes a one-row INSERT ... VALUES (?, ...) of width columns.
func newRowInserter(one string, width int) *rowInserter {
	tuple := "(" + strings.Repeat("?, ", width-1) + "?)"
	return &rowInserter{one: one, many: one + strings.Repeat(", "+tuple, rowsPerInsert-1), width: width,
		args: make([]any, 0, width*rowsPerInsert)}
}

func (r *rowInserter) add(exec func(string, ...any) error, row ...any) error {
	r.args = append(r.args, row...)
	if len(r.args) < r.width*rowsPerInsert {
		return nil
	}
	err := exec(r.many, r.args...)
	r.args = r.args[:0]
	return err
}

func (r *rowInserter) flush(exec func(string, ...any) error) error {
	defer func() { r.args = r.args[:0] }()
	for i := 0; i < len(r.args); i += r.width {
		if err := exec(r.one, r.args[i:i+r.width]...); err != nil {
			return err
		}
	}
	return nil
}

const (
	qBatchLoss = `INSERT OR REPLACE INTO batch_loss (trial, iteration, epoch, batch_size, seconds, value, nonfinite)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	qEpochMetric = `INSERT OR REPLACE INTO epoch_metrics
		(trial, epoch, iteration, samples, seconds, epoch_seconds, name, value, nonfinite)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

func (s *Store) apply(tx *sql.Tx, exec func(string, ...any) error, o *op) error {
	switch o.kind {
	case opFlush:
		return nil
	case opTrialStarted:
		if err := exec(`DELETE FROM epoch_metrics WHERE trial = ?`, o.trial); err != nil {
			return err
		}
		if err := exec(`DELETE FROM batch_loss WHERE trial = ?`, o.trial); err != nil {
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
	ttt := math.NaN()
	if r.TargetReached {
		ttt = r.TargetSeconds
	}
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
	args = append(args, r.DivergedIteration, o.trial)
	res, err := tx.Exec(`UPDATE trials SET state = ?, error = ?, stop_reason = ?, ended_at = ?,
		seconds = ?, epochs = ?, iterations = ?, samples = ?,
		final_epoch = ?, final_iteration = ?, final_samples = ?, final_seconds = ?, final_epoch_seconds = ?,
		final_train_loss = ?, final_train_loss_nonfinite = ?, final_val_loss = ?, final_val_loss_nonfinite = ?,
		final_train_accuracy = ?, final_train_accuracy_nonfinite = ?,
		final_val_accuracy = ?, final_val_accuracy_nonfinite = ?,
		best_val_loss = ?, best_val_loss_nonfinite = ?, last_finite_loss = ?, last_finite_loss_nonfinite = ?,
		time_to_target = ?, time_to_target_nonfinite = ?, diverged_iteration = ?
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
		return configChanged(info.Name, hash, info.ConfigHash)
	}
	if _, err := insertMissingTrials(tx, info.Name, o.x.plans); err != nil {
		return err
	}
	_, err = tx.Exec(`UPDATE sweeps SET updated_at = ? WHERE name = ?`, timeText(o.at), info.Name)
	return err
}
