package sqlite

import (
	"database/sql"

	"github.com/gradsweep/gradsweep/framework"
)

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
//     exploded, or whose epoch's validation loss was not finite (0 if the
//     trial did not diverge).
//   - last_finite_loss REAL (+ _nonfinite): a diverged trial's batch loss
//     of its last weight update (Result.LastFiniteLoss); NULL otherwise.
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

// A migration takes a database from user_version i to i+1: SQL, then,
// where rows must be re-encoded, Go. Append only: never edit a migration
// that has shipped.
type migration struct {
	sql  string
	data func(*sql.Tx) error // after sql; nil if none
}

var migrations = []migration{
	{sql: schemaV1},
	{sql: schemaV2},
	{sql: schemaV3, data: packBatchLossV3},
	{sql: schemaV4},
	{sql: schemaV5},
	{sql: schemaV6},
}

// schemaV6 stores the gradient flow (record.layer_stats_every):
//
// Table layer_stats: one row per (trial, measured update, weighted layer).
//   - trial TEXT: REFERENCES trials(id) ON DELETE CASCADE.
//   - iteration INTEGER: the update (1-based); layer INTEGER: the layer's
//     index in the model (PyTorch's "i.weight"); PRIMARY KEY (trial,
//     iteration, layer).
//   - grad_norm, weight_norm, update_ratio, dead_fraction REAL: as
//     framework.LayerStats; NULL when not finite, and dead_fraction NULL
//     when no ReLU, sigmoid or tanh follows the layer.
const schemaV6 = `
CREATE TABLE layer_stats (
	trial         TEXT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
	iteration     INTEGER NOT NULL,
	layer         INTEGER NOT NULL,
	grad_norm     REAL,
	weight_norm   REAL,
	update_ratio  REAL,
	dead_fraction REAL,
	PRIMARY KEY (trial, iteration, layer)
) WITHOUT ROWID;
`

// schemaV5 stores the learning rate, which a schedule varies in time:
//
// Table epochs, new column:
//   - learning_rate REAL: the rate of the epoch's last update; NULL for
//     epochs stored before version 5 (their rate is the trial's
//     training.learning_rate).
//
// batch_loss_chunks.losses points get a sixth value, the update's learning
// rate ([iteration, epoch, batch_size, seconds, loss, learning_rate]);
// points stored before version 5 have five.
//
// Views: batch_loss gets a learning_rate column; epoch_metrics a metric
// named learning_rate.
const schemaV5 = `
ALTER TABLE epochs ADD COLUMN learning_rate REAL;
DROP VIEW epoch_metrics;
DROP VIEW batch_loss;
` + viewsV5

// viewsV5 are the views of version 5: viewsV3 with the learning rate.
const viewsV5 = `
CREATE VIEW epoch_metrics (trial, epoch, iteration, samples, seconds, epoch_seconds, name, value, nonfinite) AS
	SELECT trial, epoch, iteration, samples, seconds, epoch_seconds, 'train_loss', train_loss, train_loss_nonfinite
	FROM epochs WHERE train_loss IS NOT NULL OR train_loss_nonfinite IS NOT NULL
	UNION ALL
	SELECT trial, epoch, iteration, samples, seconds, epoch_seconds, 'val_loss', val_loss, val_loss_nonfinite
	FROM epochs WHERE val_loss IS NOT NULL OR val_loss_nonfinite IS NOT NULL
	UNION ALL
	SELECT trial, epoch, iteration, samples, seconds, epoch_seconds, 'train_accuracy', train_accuracy, train_accuracy_nonfinite
	FROM epochs WHERE train_accuracy IS NOT NULL OR train_accuracy_nonfinite IS NOT NULL
	UNION ALL
	SELECT trial, epoch, iteration, samples, seconds, epoch_seconds, 'val_accuracy', val_accuracy, val_accuracy_nonfinite
	FROM epochs WHERE val_accuracy IS NOT NULL OR val_accuracy_nonfinite IS NOT NULL
	UNION ALL
	SELECT trial, epoch, iteration, samples, seconds, epoch_seconds, 'learning_rate', learning_rate, NULL
	FROM epochs WHERE learning_rate IS NOT NULL;

CREATE VIEW batch_loss (trial, iteration, epoch, batch_size, seconds, value, nonfinite, learning_rate) AS
	SELECT c.trial, json_extract(p.value, '$[0]'), json_extract(p.value, '$[1]'), json_extract(p.value, '$[2]'),
		CAST(json_extract(p.value, '$[3]') AS REAL),
		CASE json_type(p.value, '$[4]') WHEN 'text' THEN NULL ELSE CAST(json_extract(p.value, '$[4]') AS REAL) END,
		CASE json_type(p.value, '$[4]') WHEN 'text' THEN json_extract(p.value, '$[4]') END,
		CAST(json_extract(p.value, '$[5]') AS REAL)
	FROM batch_loss_chunks c, json_each(c.losses) p;
`

// schemaV4 stores the identity of the data files a sweep read, so that a
// resume refuses data that changed since (PrepareSweep):
//
// Table sweeps, new column:
//   - data_id TEXT: one line per file read (the csv or MNIST files, the
//     init_from weights), "<sha256 hex> <size in bytes> <path>", in the
//     order the sweep reads them; empty for built-in and generated data.
//     NULL for a sweep stored before version 4: unknown, taken as matching
//     and filled in by its next run.
const schemaV4 = `
ALTER TABLE sweeps ADD COLUMN data_id TEXT;
`

// schemaV2 indexes the claimable trials of each sweep by order, so a claim
// finds the next trial in O(log n) instead of scanning past every trial
// already finished.
const schemaV2 = `
CREATE INDEX trials_claimable ON trials (sweep, idx) WHERE state IN ('pending', 'interrupted');
`

// schemaV3 stores the series packed, so that recording a trial costs a few
// rows instead of hundreds (the store's cost next to training):
//
// Table epochs: one row per (trial, finished epoch), every metric a column.
//   - trial TEXT: REFERENCES trials(id) ON DELETE CASCADE; epoch INTEGER,
//     1-based; PRIMARY KEY (trial, epoch).
//   - iteration, samples INTEGER, seconds, epoch_seconds REAL: as in
//     epoch_metrics.
//   - train_loss, val_loss, train_accuracy, val_accuracy REAL (+ _nonfinite
//     TEXT): (NULL, NULL) is a metric that does not apply.
//
// Table batch_loss_chunks: the recorded batch losses, one row per run of
// consecutive recorded updates (a short trial's all, a long one's about a
// second's worth, at most chunkPoints).
//   - trial TEXT: REFERENCES trials(id) ON DELETE CASCADE.
//   - iteration INTEGER: the chunk's first update; PRIMARY KEY (trial,
//     iteration). A diverged trial's kept tail (DivergenceTail) goes into
//     its last chunk, whose range may then overlap an earlier chunk's.
//   - points INTEGER: updates in the chunk.
//   - losses TEXT: a JSON array of [iteration, epoch, batch_size, seconds,
//     loss] arrays, iterations ascending; seconds and a finite loss are
//     numbers that read back to the same float64, a non-finite loss is the
//     string "NaN", "+Inf" or "-Inf".
//
// The CHECKs are written with OR, not IN (...): SQLite builds a temporary
// table for an IN list each time a row is checked, which made the checks
// cost more than the insert itself.
//
// The views epoch_metrics and batch_loss show them in the long, one row per
// value, form of schema version 2, with the same columns, so queries
// written for it keep working.
const schemaV3 = `
CREATE TABLE epochs (
	trial         TEXT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
	epoch         INTEGER NOT NULL,
	iteration     INTEGER NOT NULL,
	samples       INTEGER NOT NULL,
	seconds       REAL NOT NULL,
	epoch_seconds REAL NOT NULL,
	train_loss               REAL,
	train_loss_nonfinite     TEXT CHECK (train_loss_nonfinite = 'NaN' OR train_loss_nonfinite = '+Inf' OR train_loss_nonfinite = '-Inf'),
	val_loss                 REAL,
	val_loss_nonfinite       TEXT CHECK (val_loss_nonfinite = 'NaN' OR val_loss_nonfinite = '+Inf' OR val_loss_nonfinite = '-Inf'),
	train_accuracy           REAL,
	train_accuracy_nonfinite TEXT CHECK (train_accuracy_nonfinite = 'NaN' OR train_accuracy_nonfinite = '+Inf' OR train_accuracy_nonfinite = '-Inf'),
	val_accuracy             REAL,
	val_accuracy_nonfinite   TEXT CHECK (val_accuracy_nonfinite = 'NaN' OR val_accuracy_nonfinite = '+Inf' OR val_accuracy_nonfinite = '-Inf'),
	CHECK (train_loss IS NULL OR train_loss_nonfinite IS NULL),
	CHECK (val_loss IS NULL OR val_loss_nonfinite IS NULL),
	CHECK (train_accuracy IS NULL OR train_accuracy_nonfinite IS NULL),
	CHECK (val_accuracy IS NULL OR val_accuracy_nonfinite IS NULL),
	PRIMARY KEY (trial, epoch)
) WITHOUT ROWID;

INSERT INTO epochs
SELECT trial, epoch, max(iteration), max(samples), max(seconds), max(epoch_seconds),
	max(CASE name WHEN 'train_loss' THEN value END), max(CASE name WHEN 'train_loss' THEN nonfinite END),
	max(CASE name WHEN 'val_loss' THEN value END), max(CASE name WHEN 'val_loss' THEN nonfinite END),
	max(CASE name WHEN 'train_accuracy' THEN value END), max(CASE name WHEN 'train_accuracy' THEN nonfinite END),
	max(CASE name WHEN 'val_accuracy' THEN value END), max(CASE name WHEN 'val_accuracy' THEN nonfinite END)
FROM epoch_metrics GROUP BY trial, epoch;

DROP TABLE epoch_metrics;

CREATE TABLE batch_loss_chunks (
	trial     TEXT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
	iteration INTEGER NOT NULL,
	points    INTEGER NOT NULL,
	losses    TEXT NOT NULL,
	PRIMARY KEY (trial, iteration)
) WITHOUT ROWID;
`

// viewsV3 are the long-form views of schema version 3's packed tables.
const viewsV3 = `
CREATE VIEW epoch_metrics (trial, epoch, iteration, samples, seconds, epoch_seconds, name, value, nonfinite) AS
	SELECT trial, epoch, iteration, samples, seconds, epoch_seconds, 'train_loss', train_loss, train_loss_nonfinite
	FROM epochs WHERE train_loss IS NOT NULL OR train_loss_nonfinite IS NOT NULL
	UNION ALL
	SELECT trial, epoch, iteration, samples, seconds, epoch_seconds, 'val_loss', val_loss, val_loss_nonfinite
	FROM epochs WHERE val_loss IS NOT NULL OR val_loss_nonfinite IS NOT NULL
	UNION ALL
	SELECT trial, epoch, iteration, samples, seconds, epoch_seconds, 'train_accuracy', train_accuracy, train_accuracy_nonfinite
	FROM epochs WHERE train_accuracy IS NOT NULL OR train_accuracy_nonfinite IS NOT NULL
	UNION ALL
	SELECT trial, epoch, iteration, samples, seconds, epoch_seconds, 'val_accuracy', val_accuracy, val_accuracy_nonfinite
	FROM epochs WHERE val_accuracy IS NOT NULL OR val_accuracy_nonfinite IS NOT NULL;

CREATE VIEW batch_loss (trial, iteration, epoch, batch_size, seconds, value, nonfinite) AS
	SELECT c.trial, json_extract(p.value, '$[0]'), json_extract(p.value, '$[1]'), json_extract(p.value, '$[2]'),
		CAST(json_extract(p.value, '$[3]') AS REAL),
		CASE json_type(p.value, '$[4]') WHEN 'text' THEN NULL ELSE CAST(json_extract(p.value, '$[4]') AS REAL) END,
		CASE json_type(p.value, '$[4]') WHEN 'text' THEN json_extract(p.value, '$[4]') END
	FROM batch_loss_chunks c, json_each(c.losses) p;
`

// packBatchLossV3 moves schema version 2's batch_loss rows into chunks and
// puts the views in place of the tables they replace.
func packBatchLossV3(tx *sql.Tx) error {
	rows, err := tx.Query(`SELECT trial, iteration, epoch, batch_size, seconds, value, nonfinite
		FROM batch_loss ORDER BY trial, iteration`)
	if err != nil {
		return err
	}
	var chunks []lossChunk
	var trial string
	var pts []framework.IterationStats
	for rows.Next() {
		var id string
		var it framework.IterationStats
		var v nullReal
		if err := rows.Scan(&id, &it.Iteration, &it.Epoch, &it.BatchSize, &it.Seconds, &v.v, &v.nf); err != nil {
			rows.Close()
			return err
		}
		if it.Loss, err = fromReal(v.v, v.nf); err != nil {
			rows.Close()
			return err
		}
		if id != trial {
			chunks = append(chunks, splitChunks(trial, pts)...)
			trial, pts = id, nil
		}
		pts = append(pts, it)
	}
	chunks = append(chunks, splitChunks(trial, pts)...)
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if _, err := tx.Exec(`DROP TABLE batch_loss`); err != nil {
		return err
	}
	var buf []byte
	for _, c := range chunks {
		if _, err := tx.Exec(qLossChunk, c.args(&buf)...); err != nil {
			return err
		}
	}
	_, err = tx.Exec(viewsV3)
	return err
}

// SchemaVersion is the user_version this package writes and reads.
func SchemaVersion() int { return len(migrations) }
