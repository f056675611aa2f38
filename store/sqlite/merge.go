package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// trialColumns are the trials columns, in schema order.
var trialColumns = strings.Fields(`id sweep idx point repeat seed params varied state owner error stop_reason
	started_at ended_at seconds epochs iterations samples
	final_epoch final_iteration final_samples final_seconds final_epoch_seconds
	final_train_loss final_train_loss_nonfinite final_val_loss final_val_loss_nonfinite
	final_train_accuracy final_train_accuracy_nonfinite final_val_accuracy final_val_accuracy_nonfinite
	best_val_loss best_val_loss_nonfinite diverged_iteration last_finite_loss last_finite_loss_nonfinite
	time_to_target time_to_target_nonfinite`)

const finished = `('completed', 'diverged', 'failed', 'pruned')`

// ErrMergeRefused is wrapped by a merge's error for a source that cannot
// be merged as given: not a regular file, or the destination itself.
var ErrMergeRefused = errors.New("refused")

// MergeInputs are merge sources that passed CheckMergeInputs.
type MergeInputs struct {
	paths []string
}

// CheckMergeInputs validates merge sources before anything is written:
// each must be a regular file (a FIFO or a device would block or never
// end), a gradsweep store of this schema version (ErrSchemaVersion) that
// passes SQLite's quick_check, and a sweep stored in two of them must have
// the same config hash and data files (ErrConfigChanged). Each is opened
// read-only.
func CheckMergeInputs(paths []string) (*MergeInputs, error) {
	hashes := map[string]sourceSweep{} // by sweep name
	from := map[string]string{}        // sweep → the file hashes has it from
	for _, path := range paths {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("merge %s: %w", path, err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("merge %s: %w: not a regular file (%s)", path, ErrMergeRefused, fi.Mode().Type())
		}
		src, err := OpenReadOnly(path)
		if err != nil {
			return nil, fmt.Errorf("merge %s: %w", path, err)
		}
		sweeps, err := src.checkSource()
		src.Close()
		if err != nil {
			return nil, fmt.Errorf("merge %s: %w", path, err)
		}
		for name, sw := range sweeps {
			prev, ok := hashes[name]
			if ok && prev.hash != sw.hash {
				return nil, fmt.Errorf("merge %s: %w: sweep %q has config hash %s here and %s in %s: they are not shards of one experiment",
					path, ErrConfigChanged, name, sw.hash, prev.hash, from[name])
			}
			if ok && sw.data.Valid && !sameData(prev.data, sw.data.String) {
				return nil, fmt.Errorf("merge %s: %w: sweep %q read other data than in %s: %s", path, ErrConfigChanged, name,
					from[name], dataDiff(prev.data.String, sw.data.String))
			}
			if !ok || !prev.data.Valid {
				hashes[name], from[name] = sw, path
			}
		}
	}
	return &MergeInputs{paths: paths}, nil
}

// sourceSweep is what merges compare of a sweep in two files.
type sourceSweep struct {
	hash string         // config hash
	data sql.NullString // data identity (NULL: unknown)
}

// checkSource runs SQLite's quick_check on a read-only store and returns
// its sweeps' config hashes and data identities.
func (s *Store) checkSource() (map[string]sourceSweep, error) {
	out := map[string]sourceSweep{}
	err := s.readTx(func(tx *sql.Tx) error {
		rows, err := tx.Query(`PRAGMA quick_check(1)`)
		if err != nil {
			return err
		}
		var res string
		for rows.Next() {
			if err := rows.Scan(&res); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if res != "ok" {
			return fmt.Errorf("corrupt (quick_check: %s)", res)
		}
		rows, err = tx.Query(`SELECT name, config_hash, data_id FROM sweeps`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var sw sourceSweep
			if err := rows.Scan(&name, &sw.hash, &sw.data); err != nil {
				return err
			}
			out[name] = sw
		}
		return rows.Err()
	})
	if err != nil {
		return nil, openError(s.path, err)
	}
	return out, nil
}

// Merge merges one source file: CheckMergeInputs and MergeAll.
func (s *Store) Merge(srcPath string) (added int, err error) {
	in, err := CheckMergeInputs([]string{srcPath})
	if err != nil {
		return 0, err
	}
	err = s.MergeAll(in, func(_ string, n int) { added = n })
	return added, err
}

// MergeAll copies into s the trials of the checked source files (shards
// run elsewhere) that s lacks or has not finished: a source trial is
// taken, with its epoch series and batch losses, when s does not have it,
// or when s has it pending, interrupted or running and the source has it
// finished (completed, diverged, failed or pruned). Sweeps s lacks are
// copied. A source trial that was running is stored as interrupted.
// Merging the same file twice adds nothing.
//
// Every source is first compared with s: a sweep stored in s under the
// same name with another config hash, or a trial stored under another
// sweep, refuses the whole merge (ErrConfigChanged) and nothing is
// written. Then each source is merged in one transaction, in order, and
// done is called with its path and the number of trials inserted or
// updated once it is committed; an error after that (I/O, a full disk)
// names the sources merged and those not.
func (s *Store) MergeAll(in *MergeInputs, done func(path string, added int)) error {
	if s.readOnly {
		return fmt.Errorf("merge into %s: %w", s.path, ErrReadOnly)
	}
	ctx := context.Background()
	conn, err := s.w.Conn(ctx) // the one write connection: the writer waits meanwhile
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, path := range in.paths {
		if err := s.withSource(ctx, conn, path, func() error { return checkAgainst(conn) }); err != nil {
			return fmt.Errorf("merge %s into %s: %w (nothing merged)", path, s.path, err)
		}
	}
	for i, path := range in.paths {
		added := 0
		err := s.withSource(ctx, conn, path, func() (err error) {
			for attempt := 0; ; attempt++ {
				added, err = s.mergeTx(ctx, conn)
				if err == nil || !isBusy(err) || attempt == 4 {
					return err
				}
			}
		})
		if err != nil {
			merged := "nothing merged"
			if i > 0 {
				merged = fmt.Sprintf("merged: %s; not merged: %s", strings.Join(in.paths[:i], ", "), strings.Join(in.paths[i:], ", "))
			}
			return fmt.Errorf("merge %s into %s: %w (%s)", path, s.path, err, merged)
		}
		if done != nil {
			done(path, added)
		}
	}
	return nil
}

// withSource attaches the source file read-only as "src" on conn, runs fn
// and detaches it.
func (s *Store) withSource(ctx context.Context, conn *sql.Conn, srcPath string, fn func() error) error {
	fi, err := os.Stat(srcPath)
	if err != nil {
		return err
	}
	if di, err := os.Stat(s.path); err == nil && os.SameFile(fi, di) {
		return fmt.Errorf("%w: source and destination are the same file", ErrMergeRefused)
	}
	abs, err := filepath.Abs(srcPath)
	if err != nil {
		return err
	}
	uri := "file:" + (&url.URL{Path: abs}).EscapedPath() + "?mode=ro"
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS src`, uri); err != nil {
		return openError(srcPath, err)
	}
	defer conn.ExecContext(ctx, `DETACH DATABASE src`)
	var v int
	if err := conn.QueryRowContext(ctx, `PRAGMA src.user_version`).Scan(&v); err != nil {
		return openError(srcPath, err)
	}
	if v != len(migrations) {
		return schemaError{fmt.Sprintf("source schema version %d, this gradsweep writes %d (open the older file with this gradsweep once to upgrade it)",
			v, len(migrations))}
	}
	return fn()
}

// checkAgainst refuses an attached source whose sweeps (config hash, data
// files) or trials clash with the destination's (ErrConfigChanged).
func checkAgainst(conn *sql.Conn) error {
	ctx := context.Background()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // reads only
	var name, dstHash, srcHash string
	err = tx.QueryRowContext(ctx, `SELECT s.name, d.config_hash, s.config_hash FROM src.sweeps s JOIN main.sweeps d ON d.name = s.name
		WHERE d.config_hash != s.config_hash ORDER BY s.name LIMIT 1`).Scan(&name, &dstHash, &srcHash)
	if err == nil {
		return fmt.Errorf("%w: sweep %q has config hash %s here and %s in the source: rename the sweep in one of them",
			ErrConfigChanged, name, dstHash, srcHash)
	} else if err != sql.ErrNoRows {
		return err
	}
	if err := checkMergedData(tx); err != nil {
		return err
	}
	var id, dstSweep, srcSweep string
	err = tx.QueryRowContext(ctx, `SELECT s.id, d.sweep, s.sweep FROM src.trials s JOIN main.trials d ON d.id = s.id
		WHERE d.sweep != s.sweep LIMIT 1`).Scan(&id, &dstSweep, &srcSweep)
	if err == nil {
		return fmt.Errorf("%w: trial %s belongs to sweep %q here and %q in the source", ErrConfigChanged, id, dstSweep, srcSweep)
	} else if err != sql.ErrNoRows {
		return err
	}
	return nil
}

func (s *Store) mergeTx(ctx context.Context, conn *sql.Conn) (int, error) {
	tx, err := conn.BeginTx(ctx, nil) // BEGIN IMMEDIATE
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()

	// checked before (checkAgainst); again here, in the transaction, in
	// case another process wrote meanwhile
	var name, dstHash, srcHash string
	err = tx.QueryRow(`SELECT s.name, d.config_hash, s.config_hash FROM src.sweeps s JOIN main.sweeps d ON d.name = s.name
		WHERE d.config_hash != s.config_hash ORDER BY s.name LIMIT 1`).Scan(&name, &dstHash, &srcHash)
	if err == nil {
		return 0, fmt.Errorf("%w: sweep %q has config hash %s here and %s in the source: rename the sweep in one of them",
			ErrConfigChanged, name, dstHash, srcHash)
	} else if err != sql.ErrNoRows {
		return 0, err
	}
	if err := checkMergedData(tx); err != nil {
		return 0, err
	}
	if err := checkSameResults(tx); err != nil {
		return 0, err
	}

	cols := strings.Join(trialColumns, ", ")
	var sel, set []string
	for _, c := range trialColumns {
		switch c {
		case "state":
			sel = append(sel, `CASE WHEN state = 'running' THEN 'interrupted' ELSE state END`)
		case "owner":
			sel = append(sel, `CASE WHEN state IN `+finished+` THEN owner END`)
		default:
			sel = append(sel, c)
		}
		if c != "id" && c != "sweep" {
			set = append(set, c+" = excluded."+c)
		}
	}
	steps := []string{
		`INSERT INTO main.sweeps (name, config_hash, config, seed, metric, created_at, updated_at, data_id)
			SELECT name, config_hash, config, seed, metric, created_at, updated_at, data_id FROM src.sweeps
			WHERE name NOT IN (SELECT name FROM main.sweeps)`,
		`UPDATE main.sweeps SET data_id = (SELECT s.data_id FROM src.sweeps s WHERE s.name = sweeps.name)
			WHERE data_id IS NULL`,
		`CREATE TEMP TABLE IF NOT EXISTS merge_ids (id TEXT PRIMARY KEY)`,
		`DELETE FROM temp.merge_ids`,
		`INSERT INTO temp.merge_ids SELECT s.id FROM src.trials s LEFT JOIN main.trials d ON d.id = s.id
			WHERE d.id IS NULL OR (d.state NOT IN ` + finished + ` AND s.state IN ` + finished + `)`,
		`DELETE FROM main.epochs WHERE trial IN (SELECT id FROM temp.merge_ids)`,
		`DELETE FROM main.batch_loss_chunks WHERE trial IN (SELECT id FROM temp.merge_ids)`,
		`DELETE FROM main.layer_stats WHERE trial IN (SELECT id FROM temp.merge_ids)`,
		`INSERT INTO main.trials (` + cols + `) SELECT ` + strings.Join(sel, ", ") + ` FROM src.trials
			WHERE id IN (SELECT id FROM temp.merge_ids)
			ON CONFLICT (id) DO UPDATE SET ` + strings.Join(set, ", "),
		`INSERT INTO main.epochs SELECT * FROM src.epochs WHERE trial IN (SELECT id FROM temp.merge_ids)`,
		`INSERT INTO main.batch_loss_chunks SELECT * FROM src.batch_loss_chunks WHERE trial IN (SELECT id FROM temp.merge_ids)`,
		`INSERT INTO main.layer_stats SELECT * FROM src.layer_stats WHERE trial IN (SELECT id FROM temp.merge_ids)`,
		`UPDATE main.sweeps SET updated_at = (SELECT s.updated_at FROM src.sweeps s WHERE s.name = sweeps.name)
			WHERE (SELECT s.updated_at FROM src.sweeps s WHERE s.name = sweeps.name) > updated_at
			  AND EXISTS (SELECT 1 FROM main.trials t WHERE t.sweep = sweeps.name AND t.id IN (SELECT id FROM temp.merge_ids))`,
	}
	for _, q := range steps {
		if _, err := tx.Exec(q); err != nil {
			return 0, err
		}
	}
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM temp.merge_ids`).Scan(&n); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(`DELETE FROM temp.merge_ids`); err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

// resultColumns are the trials columns that say what a trial's training
// gave: two runs of one trial (same settings and seed) agree on all of
// them, to the bit, on the same kind of CPU.
var resultColumns = strings.Fields(`state iterations final_train_loss final_train_loss_nonfinite
	final_val_loss final_val_loss_nonfinite diverged_iteration last_finite_loss last_finite_loss_nonfinite`)

// checkSameResults refuses a source holding a trial that the destination
// also holds as completed or diverged, with another result (ErrMergeRefused,
// naming the trial and the first differing column): a merge keeps the
// destination's row, and must not hide that the same trial gave two
// answers (files from CPUs with other matrix kernels, or from another
// gradsweep). Pruned and failed trials are not compared: a rung's
// decision depends on which trials the run saw.
func checkSameResults(tx *sql.Tx) error {
	var differs []string
	for _, c := range resultColumns {
		differs = append(differs, fmt.Sprintf(`CASE WHEN d.%[1]s IS NOT s.%[1]s THEN '%[1]s: ' || quote(d.%[1]s) || ' here, ' || quote(s.%[1]s) || ' in the source' END`, c))
	}
	var id, diff string
	err := tx.QueryRow(`SELECT s.id, coalesce(`+strings.Join(differs, ", ")+`) FROM src.trials s JOIN main.trials d ON d.id = s.id
		WHERE d.state IN ('completed', 'diverged') AND s.state IN ('completed', 'diverged')
		  AND coalesce(`+strings.Join(differs, ", ")+`) IS NOT NULL ORDER BY d.idx LIMIT 1`).Scan(&id, &diff)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("%w: trial %s finished in both files with other results (%s): the same trial gave two answers (files from CPUs with other matrix kernels, see 'sweep bench', or from another gradsweep); merge the files of one kind of machine, or run the trial again in one of them",
		ErrMergeRefused, id, diff)
}

// checkMergedData refuses a source sweep whose data files differ from
// those of the sweep of the same name in the destination: shards of one
// sweep read the same data.
func checkMergedData(tx *sql.Tx) error {
	rows, err := tx.Query(`SELECT s.name, d.data_id, s.data_id FROM src.sweeps s JOIN main.sweeps d ON d.name = s.name
		ORDER BY s.name`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var dst, src sql.NullString
		if err := rows.Scan(&name, &dst, &src); err != nil {
			return err
		}
		if src.Valid && !sameData(dst, src.String) {
			return fmt.Errorf("%w: sweep %q read other data in the source: %s (here → source): rename the sweep in one of them",
				ErrConfigChanged, name, dataDiff(dst.String, src.String))
		}
	}
	return rows.Err()
}
