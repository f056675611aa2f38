package sqlite

import (
	"cmp"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/results"
)

// Reads use the read pool, each in one read transaction (a consistent
// snapshot): in WAL mode they neither wait for nor block a writer. A
// running trial whose owner is dead reads as interrupted.

// SweepRow summarises one stored sweep.
type SweepRow struct {
	Name       string
	ConfigHash string
	Metric     string
	Created    time.Time
	Updated    time.Time
	Trials     int                      // trials in the sweep
	Counts     map[framework.Status]int // trials by state
	// Best is the best grid point's ranking metric, ranked as 'sweep best'
	// ranks (package results): the mean over the point's repeats; NaN
	// (BestPoint −1) if no point has a value. BestNote says when the point
	// is not a plain completed one ("pruned at epoch 3").
	Best      float64
	BestPoint int
	BestNote  string
}

func (s *Store) readTx(fn func(*sql.Tx) error) error {
	tx, err := s.r.Begin()
	if err != nil {
		return fmt.Errorf("sqlite store %s: %w", s.path, err)
	}
	defer tx.Rollback()
	return fn(tx)
}

// ListSweeps lists the stored sweeps by name.
func (s *Store) ListSweeps() ([]SweepRow, error) {
	var out []SweepRow
	err := s.readTx(func(tx *sql.Tx) error {
		rows, err := tx.Query(`SELECT name, config_hash, metric, created_at, updated_at FROM sweeps ORDER BY name`)
		if err != nil {
			return err
		}
		byName := map[string]int{}
		for rows.Next() {
			var r SweepRow
			var c, u sql.NullString
			if err := rows.Scan(&r.Name, &r.ConfigHash, &r.Metric, &c, &u); err != nil {
				rows.Close()
				return err
			}
			if r.Created, err = parseTime(c); err != nil {
				rows.Close()
				return err
			}
			if r.Updated, err = parseTime(u); err != nil {
				rows.Close()
				return err
			}
			r.Counts = map[framework.Status]int{}
			r.Best, r.BestPoint = math.NaN(), -1
			byName[r.Name] = len(out)
			out = append(out, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.Query(`SELECT sweep, state, owner, count(*) FROM trials GROUP BY sweep, state, owner`)
		if err != nil {
			return err
		}
		live := s.liveness()
		for rows.Next() {
			var sweep, state string
			var owner sql.NullString
			var n int
			if err := rows.Scan(&sweep, &state, &owner, &n); err != nil {
				rows.Close()
				return err
			}
			i, ok := byName[sweep]
			if !ok {
				continue
			}
			st := framework.Status(state)
			if st == framework.Running && !live.alive(owner.String) {
				st = framework.Interrupted
			}
			out[i].Counts[st] += n
			out[i].Trials += n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range out {
			trials, err := s.loadTrials(tx, `t.sweep = ?`, out[i].Name, false)
			if err != nil {
				return err
			}
			sum := results.Summarize(results.MustLookup(out[i].Metric), trials, 0)
			if b := sum.Best(); b != nil {
				out[i].Best, out[i].BestPoint, out[i].BestNote = b.Mean, b.Point, b.Note()
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list sweeps: %w", err)
	}
	return out, nil
}

// LoadSweep reads a sweep with all its trials, their epoch series and
// batch losses, ordered by trial index, epoch and iteration. An unknown
// sweep is an error wrapping ErrNotFound.
func (s *Store) LoadSweep(name string) (*framework.SweepData, error) {
	var d *framework.SweepData
	err := s.readTx(func(tx *sql.Tx) error {
		var err error
		d, err = s.loadSweep(tx, name)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return nil, err // it names the sweep already
	}
	if err != nil {
		return nil, fmt.Errorf("load sweep %q: %w", name, err)
	}
	return d, nil
}

func (s *Store) loadSweep(tx *sql.Tx, name string) (*framework.SweepData, error) {
	d := &framework.SweepData{}
	var seed string
	var created sql.NullString
	err := tx.QueryRow(`SELECT name, config_hash, config, seed, metric, created_at FROM sweeps WHERE name = ?`, name).
		Scan(&d.Info.Name, &d.Info.ConfigHash, &d.Info.Config, &seed, &d.Info.Metric, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, s.notFoundSweep(tx, name)
	}
	if err != nil {
		return nil, err
	}
	if d.Info.Seed, err = parseSeed(seed); err != nil {
		return nil, err
	}
	if d.Info.Started, err = parseTime(created); err != nil {
		return nil, err
	}
	if d.Trials, err = s.loadTrials(tx, `t.sweep = ?`, name, true); err != nil {
		return nil, err
	}
	return d, nil
}

// LoadResults reads a sweep's trials with their epoch series but without
// their batch losses: what ranking needs (sweep.ResultsReader). An
// unknown sweep is an error wrapping ErrNotFound.
func (s *Store) LoadResults(name string) ([]framework.TrialData, error) {
	var out []framework.TrialData
	err := s.readTx(func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRow(`SELECT 1 FROM sweeps WHERE name = ?`, name).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return s.notFoundSweep(tx, name)
		} else if err != nil {
			return err
		}
		var err error
		out, err = s.loadTrials(tx, `t.sweep = ?`, name, false)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load results of sweep %q: %w", name, err)
	}
	return out, nil
}

// LoadTrial reads one trial with its series. An unknown id is an error
// wrapping ErrNotFound.
func (s *Store) LoadTrial(id string) (*framework.TrialData, error) {
	var td *framework.TrialData
	err := s.readTx(func(tx *sql.Tx) error {
		ts, err := s.loadTrials(tx, `t.id = ?`, id, true)
		if err != nil {
			return err
		}
		if len(ts) == 0 {
			return s.notFoundTrial(tx, id)
		}
		td = &ts[0]
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load trial %q: %w", id, err)
	}
	return td, nil
}

// Finished reads the sweep's finished trials (completed, diverged,
// failed, pruned) with their epoch series but without their batch losses,
// by trial index: what a resumed pruned run needs of the trials an earlier
// run finished. A sweep without any is no error.
func (s *Store) Finished(sweep string) ([]framework.TrialData, error) {
	var out []framework.TrialData
	err := s.readTx(func(tx *sql.Tx) error {
		var err error
		out, err = s.loadTrials(tx, `t.sweep = ? AND t.state IN `+finished, sweep, false)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("finished trials of %q: %w", sweep, err)
	}
	return out, nil
}

// SweepOfTrial is the name of the sweep a trial belongs to.
func (s *Store) SweepOfTrial(id string) (string, error) {
	var sweep string
	err := s.readTx(func(tx *sql.Tx) error {
		err := tx.QueryRow(`SELECT sweep FROM trials WHERE id = ?`, id).Scan(&sweep)
		if errors.Is(err, sql.ErrNoRows) {
			return s.notFoundTrial(tx, id)
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("sweep of trial %q: %w", id, err)
	}
	return sweep, nil
}

// TrialStates maps each trial id of the sweep to its state.
func (s *Store) TrialStates(sweep string) (map[string]framework.Status, error) {
	out := map[string]framework.Status{}
	err := s.readTx(func(tx *sql.Tx) error {
		rows, err := tx.Query(`SELECT id, state, owner FROM trials WHERE sweep = ?`, sweep)
		if err != nil {
			return err
		}
		defer rows.Close()
		live := s.liveness()
		for rows.Next() {
			var id, state string
			var owner sql.NullString
			if err := rows.Scan(&id, &state, &owner); err != nil {
				return err
			}
			st := framework.Status(state)
			if st == framework.Running && !live.alive(owner.String) {
				st = framework.Interrupted
			}
			out[id] = st
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(out) == 0 {
			var one int
			err := tx.QueryRow(`SELECT 1 FROM sweeps WHERE name = ?`, sweep).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return s.notFoundSweep(tx, sweep)
			}
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("trial states of %q: %w", sweep, err)
	}
	return out, nil
}

// TrialIDsWithPrefix returns up to limit trial ids (of any sweep) that
// start with prefix, in order.
func (s *Store) TrialIDsWithPrefix(prefix string, limit int) ([]string, error) {
	var ids []string
	err := s.readTx(func(tx *sql.Tx) error {
		var err error
		ids, err = column(tx, `SELECT id FROM trials WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT ?`, len(prefix), prefix, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("trials with id prefix %q: %w", prefix, err)
	}
	return ids, nil
}

func (s *Store) notFoundTrial(tx *sql.Tx, id string) error {
	// Suggest ids sharing the longest prefix we can find.
	for n := min(len(id), 8); n >= 0; n -= 4 {
		ids, err := column(tx, `SELECT id FROM trials WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT 6`, n, id[:n])
		if err != nil {
			return err
		}
		if len(ids) > 0 || n == 0 {
			return fmt.Errorf("trial %q: %w in %s (trials stored include: %s)", id, ErrNotFound, s.path, someNames(ids, 5))
		}
	}
	return fmt.Errorf("trial %q: %w in %s", id, ErrNotFound, s.path)
}

const trialCols = `t.id, t.sweep, t.idx, t.point, t.repeat, t.seed, t.params, t.varied, t.state, t.owner,
	t.error, t.stop_reason, t.started_at, t.ended_at, t.seconds, t.epochs, t.iterations, t.samples,
	t.final_epoch, t.final_iteration, t.final_samples, t.final_seconds, t.final_epoch_seconds,
	t.final_train_loss, t.final_train_loss_nonfinite, t.final_val_loss, t.final_val_loss_nonfinite,
	t.final_train_accuracy, t.final_train_accuracy_nonfinite, t.final_val_accuracy, t.final_val_accuracy_nonfinite,
	t.best_val_loss, t.best_val_loss_nonfinite, t.diverged_iteration,
	t.last_finite_loss, t.last_finite_loss_nonfinite, t.time_to_target, t.time_to_target_nonfinite`

type nullReal struct {
	v  sql.NullFloat64
	nf sql.NullString
}

// loadTrials reads the trials matching where (on alias t), ordered by
// sweep and idx, with their epoch series and, with batchLoss, their batch
// losses and layer statistics.
func (s *Store) loadTrials(tx *sql.Tx, where string, arg any, batchLoss bool) ([]framework.TrialData, error) {
	rows, err := tx.Query(`SELECT `+trialCols+` FROM trials t WHERE `+where+` ORDER BY t.sweep, t.idx`, arg)
	if err != nil {
		return nil, err
	}
	var out []framework.TrialData
	byID := map[string]int{}
	live := s.liveness()
	for rows.Next() {
		td, err := scanTrial(rows, live)
		if err != nil {
			rows.Close()
			return nil, err
		}
		byID[td.Plan.ID] = len(out)
		out = append(out, td)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	if err := loadEpochs(tx, where, arg, out, byID); err != nil || !batchLoss {
		return out, err
	}
	if err := loadBatchLosses(tx, where, arg, out, byID); err != nil {
		return out, err
	}
	return out, loadLayerStats(tx, where, arg, out, byID)
}

// loadLayerStats appends each trial's layer statistics to
// out[byID[trial]].Layers, by iteration then layer; NULL reads as NaN.
func loadLayerStats(tx *sql.Tx, where string, arg any, out []framework.TrialData, byID map[string]int) error {
	rows, err := tx.Query(`SELECT l.trial, l.iteration, l.layer, l.grad_norm, l.weight_norm, l.update_ratio, l.dead_fraction
		FROM trials t JOIN layer_stats l ON l.trial = t.id WHERE `+where+` ORDER BY t.sweep, t.idx, l.iteration, l.layer`, arg)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var p framework.LayerPoint
		var v [4]sql.NullFloat64
		if err := rows.Scan(&id, &p.Iteration, &p.Layer, &v[0], &v[1], &v[2], &v[3]); err != nil {
			return err
		}
		for i, dst := range [...]*float64{&p.GradNorm, &p.WeightNorm, &p.UpdateRatio, &p.DeadFraction} {
			*dst = math.NaN()
			if v[i].Valid {
				*dst = v[i].Float64
			}
		}
		td := &out[byID[id]]
		td.Layers = append(td.Layers, p)
	}
	return rows.Err()
}

// loadEpochs appends each trial's epochs to out[byID[trial]].EpochSeries.
func loadEpochs(tx *sql.Tx, where string, arg any, out []framework.TrialData, byID map[string]int) error {
	rows, err := tx.Query(`SELECT e.trial, e.epoch, e.iteration, e.samples, e.seconds, e.epoch_seconds,
		e.train_loss, e.train_loss_nonfinite, e.val_loss, e.val_loss_nonfinite,
		e.train_accuracy, e.train_accuracy_nonfinite, e.val_accuracy, e.val_accuracy_nonfinite, e.learning_rate
		FROM trials t JOIN epochs e ON e.trial = t.id WHERE `+where+` ORDER BY t.sweep, t.idx, e.epoch`, arg)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var e framework.EpochStats
		var m [4]nullReal
		var lr sql.NullFloat64
		if err := rows.Scan(&id, &e.Epoch, &e.Iteration, &e.Samples, &e.Seconds, &e.EpochSeconds,
			&m[0].v, &m[0].nf, &m[1].v, &m[1].nf, &m[2].v, &m[2].nf, &m[3].v, &m[3].nf, &lr); err != nil {
			return err
		}
		e.LearningRate = math.NaN()
		if lr.Valid {
			e.LearningRate = lr.Float64
		}
		for i, dst := range [...]*float64{&e.TrainLoss, &e.ValLoss, &e.TrainAccuracy, &e.ValAccuracy} {
			if *dst, err = fromReal(m[i].v, m[i].nf); err != nil {
				return fmt.Errorf("trial %s epoch %d: %w", id, e.Epoch, err)
			}
		}
		td := &out[byID[id]]
		td.EpochSeries = append(td.EpochSeries, e)
		if e.Epoch == td.Final.Epoch { // the trials row does not hold the last epoch's rate
			td.Final.LearningRate = e.LearningRate
		}
	}
	return rows.Err()
}

// loadBatchLosses appends each trial's recorded batch losses to
// out[byID[trial]].BatchLoss, in iteration order.
func loadBatchLosses(tx *sql.Tx, where string, arg any, out []framework.TrialData, byID map[string]int) error {
	rows, err := tx.Query(`SELECT c.trial, c.iteration, c.losses
		FROM trials t JOIN batch_loss_chunks c ON c.trial = t.id WHERE `+where+` ORDER BY t.sweep, t.idx, c.iteration`, arg)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, losses string
		var first int
		if err := rows.Scan(&id, &first, &losses); err != nil {
			return err
		}
		pts, err := parseLosses(losses)
		if err != nil {
			return fmt.Errorf("trial %s, batch losses from iteration %d: %w", id, first, err)
		}
		td := &out[byID[id]]
		td.BatchLoss = append(td.BatchLoss, pts...)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	// A diverged trial's kept tail (DivergenceTail) may fall between the
	// iterations of a chunk stored before it: order each trial's points.
	for i := range out {
		bl := out[i].BatchLoss
		if !slices.IsSortedFunc(bl, byIteration) {
			slices.SortFunc(bl, byIteration)
		}
	}
	return nil
}

func byIteration(a, b framework.IterationStats) int { return cmp.Compare(a.Iteration, b.Iteration) }

func scanTrial(rows *sql.Rows, live *liveness) (framework.TrialData, error) {
	var td framework.TrialData
	var seed, params, varied, state string
	var owner, errText, stop, started, ended sql.NullString
	var secs, fSecs, fEpochSecs sql.NullFloat64
	var epochs, iters, samples, fEpoch, fIter, fSamples, divIter sql.NullInt64
	var trainLoss, valLoss, trainAcc, valAcc, bestVal, lastFinite, ttt nullReal
	p := &td.Plan
	if err := rows.Scan(&p.ID, &p.Sweep, &p.Index, &p.Point, &p.Repeat, &seed, &params, &varied, &state, &owner,
		&errText, &stop, &started, &ended, &secs, &epochs, &iters, &samples,
		&fEpoch, &fIter, &fSamples, &fSecs, &fEpochSecs,
		&trainLoss.v, &trainLoss.nf, &valLoss.v, &valLoss.nf, &trainAcc.v, &trainAcc.nf, &valAcc.v, &valAcc.nf,
		&bestVal.v, &bestVal.nf, &divIter, &lastFinite.v, &lastFinite.nf, &ttt.v, &ttt.nf); err != nil {
		return td, err
	}
	var err error
	if p.Seed, err = parseSeed(seed); err != nil {
		return td, err
	}
	if p.Params, err = decodeParams(params); err != nil {
		return td, fmt.Errorf("trial %s: %w", p.ID, err)
	}
	if p.Varied, err = decodeVaried(varied); err != nil {
		return td, fmt.Errorf("trial %s: %w", p.ID, err)
	}
	td.Status = framework.Status(state)
	if td.Status == framework.Running && !live.alive(owner.String) {
		td.Status = framework.Interrupted
	}
	td.Error, td.StopReason = errText.String, stop.String
	if td.Started, err = parseTime(started); err != nil {
		return td, err
	}
	if td.Ended, err = parseTime(ended); err != nil {
		return td, err
	}
	td.Seconds = secs.Float64
	td.Epochs, td.Iterations, td.Samples = int(epochs.Int64), int(iters.Int64), int(samples.Int64)
	td.Final = framework.EpochStats{Epoch: int(fEpoch.Int64), Iteration: int(fIter.Int64), Samples: int(fSamples.Int64),
		Seconds: fSecs.Float64, EpochSeconds: fEpochSecs.Float64, LearningRate: math.NaN()}
	td.DivergedIteration = int(divIter.Int64)
	for _, m := range [...]struct {
		dst *float64
		v   nullReal
	}{{&td.Final.TrainLoss, trainLoss}, {&td.Final.ValLoss, valLoss}, {&td.Final.TrainAccuracy, trainAcc},
		{&td.Final.ValAccuracy, valAcc}, {&td.BestValLoss, bestVal}, {&td.LastFiniteLoss, lastFinite},
		{&td.TimeToTarget, ttt}} {
		if *m.dst, err = fromReal(m.v.v, m.v.nf); err != nil {
			return td, fmt.Errorf("trial %s: %w", p.ID, err)
		}
	}
	return td, nil
}

// Stored returns the config hash and config of the stored sweep, and how
// many of its trials this file holds; hash is "" when it is not stored
// (sweep.Store: the runner decides from them whether a changed experiment
// may grow the sweep).
func (s *Store) Stored(sweep string) (hash, config string, trials int, err error) {
	err = s.readTx(func(tx *sql.Tx) error {
		err := tx.QueryRow(`SELECT config_hash, config, (SELECT count(*) FROM trials WHERE sweep = ?) FROM sweeps WHERE name = ?`,
			sweep, sweep).Scan(&hash, &config, &trials)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return "", "", 0, fmt.Errorf("read sweep %q: %w", sweep, err)
	}
	return hash, config, trials, nil
}
