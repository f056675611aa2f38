package sqlite

// schemaV1 is the initial schema (user_version 1). SCHEMA.md beside this
// file describes the same tables for users of the sqlite3 shell.
//
// Conventions:
//   - Times are TEXT, UTC, fixed width "2006-01-02T15:04:05.000000000Z", so
//     they sort as text; NULL when not (yet) known.
//   - Seeds are TEXT holding the decimal uint64 (SQLite integers are signed
//     64-bit; a seed ≥ 2⁶³ would otherwise read back negative).
//   - Non-finite floats: SQLite stores NaN as NULL, so a REAL column that may
//     be non-finite has a TEXT companion ("nonfinite", or "<col>_nonfinite").
//     A finite value is (value, NULL); NaN, +Inf and −Inf are
//     (NULL, 'NaN' / '+Inf' / '-Inf'); (NULL, NULL) means the value does not
//     apply (no validation split, regression accuracy, target not reached)
//     and reads back as NaN.
//
// Table sweeps: one row per sweep (experiment name) in the file.
//   - name TEXT PRIMARY KEY: the experiment's name.
//   - config_hash TEXT: hash of the canonical experiment document; a re-run
//     with another hash is refused (ErrConfigChanged) unless forced.
//   - config TEXT: the experiment file as run (YAML text).
//   - seed TEXT: the sweep seed (decimal uint64).
//   - metric TEXT: the ranking metric (val_loss, val_accuracy, train_loss,
//     time_to_target).
//   - created_at TEXT: when the sweep was first prepared (SweepInfo.Started).
//   - updated_at TEXT: last time a run prepared, started or finished it.
//
// Table trials: one row per trial (grid point × repeat).
//   - id TEXT PRIMARY KEY: stable trial id (TrialPlan.ID).
//   - sweep TEXT: the sweep, REFERENCES sweeps(name) ON DELETE CASCADE.
//   - idx INTEGER: position in the sweep's trial order, UNIQUE(sweep, idx);
//     trials are claimed lowest idx first.
//   - point INTEGER: grid point index; repeats of a point share it.
//   - repeat INTEGER: 0-based repeat of the point.
//   - seed TEXT: the trial's seed (decimal uint64).
//   - params TEXT: JSON object of every setting, dotted keys
//     ({"training.learning_rate": 0.1, ...}); floats always have a '.' or
//     an exponent, integers none.
//   - varied TEXT: JSON array of the params keys the grid or search set.
//   - state TEXT: pending, running, completed, diverged, failed,
//     interrupted or pruned (framework.Status).
//   - owner TEXT: owner id (random hex) of the process that claimed or ran
//     it; a running trial whose owner's lock is free is dead (interrupted).
//   - error TEXT: error message of a failed trial, else NULL.
//   - stop_reason TEXT: max_epochs, target_loss, early_stopping,
//     max_seconds, diverged, interrupted or pruned.
//   - started_at, ended_at TEXT: when the (last) attempt started and ended.
//   - seconds REAL: training wall time.
//   - epochs, iterations, samples INTEGER: epochs finished, weight updates,
//     samples seen.
//   - final_epoch, final_iteration, final_samples INTEGER, final_seconds,
//     final_epoch_seconds REAL: the last epoch's counters (Result.Final).
//   - final_train_loss, final_val_loss, final_train_accuracy,
//     final_val_accuracy REAL (+ _nonfinite TEXT): the last epoch's metrics.
//   - best_val_loss REAL (+ _nonfinite): lowest val_loss.
//   - diverged_iteration INTEGER: iteration whose loss was not finite or
//     exploded (0 if the trial did not diverge).
//   - last_finite_loss REAL (+ _nonfinite): last finite batch loss before
//     divergence.
//   - time_to_target REAL (+ _nonfinite): seconds to reach the target loss.
//
// Table epoch_metrics: long format, one row per (trial, epoch, metric).
//   - trial TEXT: REFERENCES trials(id) ON DELETE CASCADE.
//   - epoch INTEGER: 1-based epoch.
//   - iteration, samples INTEGER: weight updates and samples so far.
//   - seconds REAL: wall time since training started; epoch_seconds REAL:
//     duration of this epoch.
//   - name TEXT: train_loss, val_loss, train_accuracy or val_accuracy.
//   - value REAL, nonfinite TEXT: the metric (see non-finite above). A
//     metric that does not apply (val_* without a validation split,
//     accuracy for regression) has no row.
//
// PRIMARY KEY (trial, epoch, name).
//
// Table batch_loss: one row per recorded weight update (the runner may thin
// them).
//   - trial TEXT: REFERENCES trials(id) ON DELETE CASCADE.
//   - iteration INTEGER: 1-based weight update count; PRIMARY KEY (trial,
//     iteration).
//   - epoch INTEGER: the 1-based epoch it belongs to.
//   - batch_size INTEGER: samples in the batch.
//   - seconds REAL: duration of the iteration.
//   - value REAL, nonfinite TEXT: the batch loss before the update.
//
// Indexes: trials(sweep, state, idx) for claiming and counts; the primary
// keys serve the per-trial series reads.
const schemaV1 = `
CREATE TABLE sweeps (
	name        TEXT PRIMARY KEY NOT NULL,
	config_hash TEXT NOT NULL,
	config      TEXT NOT NULL,
	seed        TEXT NOT NULL,
	metric      TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL
);

CREATE TABLE trials (
	id          TEXT PRIMARY KEY NOT NULL,
	sweep       TEXT NOT NULL REFERENCES sweeps(name) ON DELETE CASCADE,
	idx         INTEGER NOT NULL,
	point       INTEGER NOT NULL,
	repeat      INTEGER NOT NULL,
	seed        TEXT NOT NULL,
	params      TEXT NOT NULL,
	varied      TEXT NOT NULL,
	state       TEXT NOT NULL DEFAULT 'pending',
	owner       TEXT,
	error       TEXT,
	stop_reason TEXT,
	started_at  TEXT,
	ended_at    TEXT,
	seconds     REAL,
	epochs      INTEGER,
	iterations  INTEGER,
	samples     INTEGER,
	final_epoch          INTEGER,
	final_iteration      INTEGER,
	final_samples        INTEGER,
	final_seconds        REAL,
	final_epoch_seconds  REAL,
	final_train_loss               REAL,
	final_train_loss_nonfinite     TEXT,
	final_val_loss                 REAL,
	final_val_loss_nonfinite       TEXT,
	final_train_accuracy           REAL,
	final_train_accuracy_nonfinite TEXT,
	final_val_accuracy             REAL,
	final_val_accuracy_nonfinite   TEXT,
	best_val_loss               REAL,
	best_val_loss_nonfinite     TEXT,
	diverged_iteration          INTEGER,
	last_finite_loss            REAL,
	last_finite_loss_nonfinite  TEXT,
	time_to_target              REAL,
	time_to_target_nonfinite    TEXT,
	UNIQUE (sweep, idx)
);

CREATE INDEX trials_sweep_state ON trials (sweep, state, idx);

CREATE TABLE epoch_metrics (
	trial         TEXT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
	epoch         INTEGER NOT NULL,
	iteration     INTEGER NOT NULL,
	samples       INTEGER NOT NULL,
	seconds       REAL NOT NULL,
	epoch_seconds REAL NOT NULL,
	name          TEXT NOT NULL CHECK (name IN ('train_loss', 'val_loss', 'train_accuracy', 'val_accuracy')),
	value         REAL,
	nonfinite     TEXT CHECK (nonfinite IN ('NaN', '+Inf', '-Inf')),
	PRIMARY KEY (trial, epoch, name),
	CHECK ((value IS NULL) = (nonfinite IS NOT NULL))
) WITHOUT ROWID;

CREATE TABLE batch_loss (
	trial      TEXT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
	iteration  INTEGER NOT NULL,
	epoch      INTEGER NOT NULL,
	batch_size INTEGER NOT NULL,
	seconds    REAL NOT NULL,
	value      REAL,
	nonfinite  TEXT CHECK (nonfinite IN ('NaN', '+Inf', '-Inf')),
	PRIMARY KEY (trial, iteration),
	CHECK ((value IS NULL) = (nonfinite IS NOT NULL))
) WITHOUT ROWID;
`

// migrations[i] takes a database from user_version i to i+1. Append only:
// never edit a migration that has shipped.
var migrations = []string{
	schemaV1,
	schemaV2,
}

// schemaV2 indexes the claimable trials of each sweep by order, so a claim
// finds the next trial in O(log n) instead of scanning past every trial
// already finished.
const schemaV2 = `
CREATE INDEX trials_claimable ON trials (sweep, idx) WHERE state IN ('pending', 'interrupted');
`

// SchemaVersion is the user_version this package writes and reads.
func SchemaVersion() int { return len(migrations) }
