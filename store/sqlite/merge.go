package sqlite

import (
	"context"
	"database/sql"
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

// Merge copies into s the trials of the store file at srcPath (a shard run
// elsewhere) that s lacks or has not finished: a source trial is taken,
// with its epoch series and batch losses, when s does not have it, or when
// s has it pending, interrupted or running and the source has it finished
// (completed, diverged, failed or pruned). Sweeps s lacks are copied. A
// source trial that was running is stored as interrupted. Merging the
// same file twice adds nothing. A source sweep stored in s under the same
// name with another config hash, or that read other data files (DataID),
// is refused (ErrConfigChanged) and nothing is written. added is the number of trials inserted or updated.
func (s *Store) Merge(srcPath string) (added int, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("merge %s into %s: %w", srcPath, s.path, err)
		}
	}()
	fi, err := os.Stat(srcPath)
	if err != nil {
		return 0, err
	}
	if di, err := os.Stat(s.path); err == nil && os.SameFile(fi, di) {
		return 0, fmt.Errorf("source and destination are the same file")
	}
	abs, err := filepath.Abs(srcPath)
	if err != nil {
		return 0, err
	}
	uri := "file:" + (&url.URL{Path: abs}).EscapedPath() + "?mode=ro"

	ctx := context.Background()
	conn, err := s.w.Conn(ctx) // the one write connection: the writer waits meanwhile
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS src`, uri); err != nil {
		return 0, openError(srcPath, err)
	}
	defer conn.ExecContext(ctx, `DETACH DATABASE src`)

	var v int
	if err := conn.QueryRowContext(ctx, `PRAGMA src.user_version`).Scan(&v); err != nil {
		return 0, openError(srcPath, err)
	}
	if v != len(migrations) {
		return 0, fmt.Errorf("source schema version %d, this gradsweep writes %d (open the older file with this gradsweep once to upgrade it)",
			v, len(migrations))
	}
	for attempt := 0; ; attempt++ {
		added, err = s.mergeTx(ctx, conn)
		if err == nil || !isBusy(err) || attempt == 4 {
			return added, err
		}
	}
}

func (s *Store) mergeTx(ctx context.Context, conn *sql.Conn) (int, error) {
	tx, err := conn.BeginTx(ctx, nil) // BEGIN IMMEDIATE
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()

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
	var id, dstSweep, srcSweep string
	err = tx.QueryRow(`SELECT s.id, d.sweep, s.sweep FROM src.trials s JOIN main.trials d ON d.id = s.id
		WHERE d.sweep != s.sweep LIMIT 1`).Scan(&id, &dstSweep, &srcSweep)
	if err == nil {
		return 0, fmt.Errorf("trial %s belongs to sweep %q here and %q in the source", id, dstSweep, srcSweep)
	} else if err != sql.ErrNoRows {
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
		`INSERT INTO main.trials (` + cols + `) SELECT ` + strings.Join(sel, ", ") + ` FROM src.trials
			WHERE id IN (SELECT id FROM temp.merge_ids)
			ON CONFLICT (id) DO UPDATE SET ` + strings.Join(set, ", "),
		`INSERT INTO main.epochs SELECT * FROM src.epochs WHERE trial IN (SELECT id FROM temp.merge_ids)`,
		`INSERT INTO main.batch_loss_chunks SELECT * FROM src.batch_loss_chunks WHERE trial IN (SELECT id FROM temp.merge_ids)`,
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
