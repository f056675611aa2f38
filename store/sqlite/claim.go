package sqlite

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gradsweep/gradsweep/framework"
)

// configChanged is the refusal of a changed experiment; why, if known,
// says what changed that keeps it from growing the sweep.
func configChanged(name, stored, now, why string) error {
	if why != "" {
		why = " (" + why + ")"
	}
	return fmt.Errorf("%w: sweep %q is stored with config hash %s but the experiment now hashes to %s%s: use --force or rename the sweep",
		ErrConfigChanged, name, stored, now, why)
}

// dataFile is one line of a SweepInfo.DataID: "<sha256> <size> <path>".
type dataFile struct{ sha, size, path string }

func parseDataID(id string) []dataFile {
	var out []dataFile
	for _, line := range strings.Split(id, "\n") {
		if line == "" {
			continue
		}
		f := strings.SplitN(line, " ", 3)
		for len(f) < 3 {
			f = append(f, "")
		}
		out = append(out, dataFile{f[0], f[1], f[2]})
	}
	return out
}

// sameData reports whether two SweepInfo.DataIDs name the same data: the
// same number of files with the same sizes and contents, in order (a path
// may differ: the files may have moved with the experiment). An unknown
// (NULL, from before schema version 4) identity matches any.
func sameData(stored sql.NullString, now string) bool {
	return !stored.Valid || dataDiff(stored.String, now) == ""
}

// dataDiff describes how the data identity now differs from stored, or is
// "" when it does not.
func dataDiff(stored, now string) string {
	a, b := parseDataID(stored), parseDataID(now)
	for i := range min(len(a), len(b)) {
		if a[i].sha != b[i].sha || a[i].size != b[i].size {
			return fmt.Sprintf("data file %s changed since the sweep was stored (sha256 %s → %s, %s → %s bytes)",
				b[i].path, a[i].sha, b[i].sha, a[i].size, b[i].size)
		}
	}
	if len(a) != len(b) {
		return fmt.Sprintf("its data files changed since the sweep was stored (%d files then, %d now)", len(a), len(b))
	}
	return ""
}

func dataChanged(name, stored, now string) error {
	return fmt.Errorf("%w: sweep %q: %s: use --force or rename the sweep", ErrConfigChanged, name, dataDiff(stored, now))
}

// sweepIdentity is what a sweep was prepared as: its config hash and data.
type sweepIdentity struct{ hash, data string }

// busy is the error for a sweep whose trials other live processes hold.
func busy(name string, owners []string, what string) error {
	return fmt.Errorf("%w: sweep %q is being run by another process (owner %s holds trials): %s",
		ErrSweepBusy, name, strings.Join(owners, ", "), what)
}

// PrepareSweep stores a sweep and its trials before a run, in one
// transaction:
//   - a new sweep is stored with every trial pending;
//   - a stored sweep with the same config hash and data keeps its finished
//     (completed, diverged, failed, pruned) and interrupted trials, turns
//     running trials whose owner is dead into interrupted, and gets any
//     trial it lacks as pending;
//   - a stored sweep with another hash that info.GrowsFrom names, and the
//     same data, grows (see growSweep) when every stored trial is planned
//     again unchanged;
//   - a stored sweep with another hash, or whose data files (DataID)
//     differ, is an error wrapping ErrConfigChanged, unless force: then
//     its trials and metrics are deleted and it is stored anew. Force is
//     refused (ErrSweepBusy) while another live process holds trials of
//     the sweep: its trials would mix two configurations.
//
// Nothing is written when an error is returned. Claims then check that the
// sweep is still stored with this hash and data (see Claim).
func (s *Store) PrepareSweep(info framework.SweepInfo, trials []framework.TrialPlan, force bool) error {
	if info.Name == "" {
		return errors.New("prepare sweep: empty sweep name")
	}
	for i := range trials {
		if trials[i].ID == "" {
			return fmt.Errorf("prepare sweep %q: trial %d has no id", info.Name, trials[i].Index)
		}
		if trials[i].Sweep != "" && trials[i].Sweep != info.Name {
			return fmt.Errorf("prepare sweep %q: trial %s belongs to sweep %q", info.Name, trials[i].ID, trials[i].Sweep)
		}
	}
	if err := s.releaseAhead(info.Name, false); err != nil {
		return fmt.Errorf("prepare sweep %q: %w", info.Name, err)
	}
	s.claimMu.Lock()
	delete(s.prepared, info.Name)
	delete(s.identity, info.Name)
	s.claimMu.Unlock()
	now := s.now()
	err := s.writeTx(func(tx *sql.Tx) error {
		var hash string
		var data sql.NullString
		err := tx.QueryRow(`SELECT config_hash, data_id FROM sweeps WHERE name = ?`, info.Name).Scan(&hash, &data)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return insertSweep(tx, &info, trials, now)
		case err != nil:
			return err
		}
		live, err := s.recoverDead(tx, info.Name)
		if err != nil {
			return err
		}
		if !force && hash != info.ConfigHash && hash == info.GrowsFrom && sameData(data, info.DataID) {
			return growSweep(tx, &info, trials, now)
		}
		if hash != info.ConfigHash || !sameData(data, info.DataID) {
			switch {
			case !force && hash != info.ConfigHash:
				return configChanged(info.Name, hash, info.ConfigHash, info.NotGrowth)
			case !force:
				return dataChanged(info.Name, data.String, info.DataID)
			case len(live) > 0:
				return busy(info.Name, live, "--force cannot replace it now; wait until that process ends, or stop it")
			}
			if _, err := tx.Exec(`DELETE FROM sweeps WHERE name = ?`, info.Name); err != nil {
				return err
			}
			return insertSweep(tx, &info, trials, now)
		}
		if err := checkResumed(tx, info.Name, trials); err != nil {
			return err
		}
		if _, err := insertMissingTrials(tx, info.Name, trials); err != nil {
			return err
		}
		_, err = tx.Exec(`UPDATE sweeps SET updated_at = ?, data_id = ? WHERE name = ?`, timeText(now), info.DataID, info.Name)
		return err
	})
	if err != nil {
		return fmt.Errorf("prepare sweep %q: %w", info.Name, err)
	}
	byID := make(map[string]*framework.TrialPlan, len(trials))
	for i := range trials {
		byID[trials[i].ID] = &trials[i]
	}
	s.claimMu.Lock()
	s.prepared[info.Name] = byID
	s.identity[info.Name] = sweepIdentity{hash: info.ConfigHash, data: info.DataID}
	s.claimMu.Unlock()
	return nil
}

// writeTx runs fn in a BEGIN IMMEDIATE transaction on the write
// connection, committing if fn returns nil.
func (s *Store) writeTx(fn func(*sql.Tx) error) error {
	return retryBusy(func() error { return s.tryWriteTx(fn) })
}

// retryBusy runs try up to five times while it fails with SQLITE_BUSY or
// SQLITE_LOCKED (the database stayed locked past the busy timeout), waiting
// 100 ms, 200 ms, ... between attempts.
func retryBusy(try func() error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = try(); err == nil || !isBusy(err) {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
	}
	return err
}

func (s *Store) tryWriteTx(fn func(*sql.Tx) error) error {
	if s.readOnly {
		return fmt.Errorf("sqlite store %s: %w", s.path, ErrReadOnly)
	}
	tx, err := s.w.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func insertSweep(tx *sql.Tx, info *framework.SweepInfo, trials []framework.TrialPlan, now time.Time) error {
	created := info.Started
	if created.IsZero() {
		created = now
	}
	if _, err := tx.Exec(`INSERT INTO sweeps (name, config_hash, config, seed, metric, created_at, updated_at, data_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, info.Name, info.ConfigHash, info.Config, seedText(info.Seed), info.Metric,
		timeText(created), timeText(now), info.DataID); err != nil {
		return err
	}
	_, err := insertMissingTrials(tx, info.Name, trials)
	return err
}

// growSweep grows a stored sweep to info's config: it keeps every stored
// trial when trials plans it again with the same id, repeat, seed, params
// and varied (a trial that differs in any of them is another trial:
// ErrConfigChanged, naming the first difference), inserts the new trials
// as pending, and stores info's config and hash. A kept trial whose place
// in the new order differs (a grid value inserted before it, a repeat
// added to every point) gets its new index and point; its results are
// untouched, and its seed, which follows its setting and repeat, not its
// place, is the one a fresh run gives it. A grown sweep is so the one a
// fresh run of the new config stores. In a sweep that proposes settings
// as it runs (info.Proposes), stored trials not planned yet are left for
// the run to propose.
func growSweep(tx *sql.Tx, info *framework.SweepInfo, trials []framework.TrialPlan, now time.Time) error {
	moved, err := checkStoredTrials(tx, info.Name, trials, func(id string, planned bool, idx, point, repeat int, why string) error {
		if info.Proposes && !planned {
			return nil // a setting the run will propose again, and check
		}
		return fmt.Errorf("%w: sweep %q cannot grow to config hash %s: trial %s (index %d, point %d, repeat %d) %s; a grown sweep keeps every stored trial as it is: use --force or rename the sweep",
			ErrConfigChanged, info.Name, info.ConfigHash, id, idx, point, repeat, why)
	})
	if err != nil {
		return err
	}
	if err := moveTrials(tx, info.Name, moved); err != nil {
		return err
	}
	if _, err := insertMissingTrials(tx, info.Name, trials); err != nil {
		return err
	}
	_, err = tx.Exec(`UPDATE sweeps SET config_hash = ?, config = ?, updated_at = ?, data_id = ? WHERE name = ?`,
		info.ConfigHash, info.Config, timeText(now), info.DataID, info.Name)
	return err
}

// checkStoredTrials compares every stored trial of sweep with its plan in
// trials (by id) and returns the plans of those whose index or point
// differs. A stored trial planned otherwise (or not at all) is passed to
// refuse, whose error ends the check (nil: the trial is left as it is).
func checkStoredTrials(tx *sql.Tx, sweep string, trials []framework.TrialPlan,
	refuse func(id string, planned bool, idx, point, repeat int, why string) error) ([]*framework.TrialPlan, error) {
	byID := make(map[string]*framework.TrialPlan, len(trials))
	for i := range trials {
		byID[trials[i].ID] = &trials[i]
	}
	rows, err := tx.Query(`SELECT id, idx, point, repeat, seed, params, varied FROM trials WHERE sweep = ? ORDER BY idx`, sweep)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var moved []*framework.TrialPlan
	for rows.Next() {
		var id, seed, params, varied string
		var idx, point, repeat int
		if err := rows.Scan(&id, &idx, &point, &repeat, &seed, &params, &varied); err != nil {
			return nil, err
		}
		plan := byID[id]
		if why := trialChange(plan, repeat, seed, params, varied); why != "" {
			if err := refuse(id, plan != nil, idx, point, repeat, why); err != nil {
				return nil, err
			}
			continue
		}
		if plan.Index != idx || plan.Point != point {
			moved = append(moved, plan)
		}
	}
	return moved, rows.Err()
}

// checkResumed refuses to resume a sweep stored under the same config
// hash whose stored trials this run plans otherwise (another seed, index
// or setting for the same id): a database written by a gradsweep that
// planned trials differently, such as one before trial seeds followed a
// trial's setting instead of its index. Running on, it would mix the two
// plans in one sweep. Stored trials this run does not plan (another
// shard's, or settings a tpe sweep proposed) are not its business.
func checkResumed(tx *sql.Tx, sweep string, trials []framework.TrialPlan) error {
	refuse := func(id string, planned bool, idx, point, repeat int, why string) error {
		if !planned {
			return nil
		}
		return fmt.Errorf("%w: sweep %q: stored trial %s (index %d, point %d, repeat %d) %s in this run: the database was written by a gradsweep that planned the same file otherwise (earlier gradsweeps derived a trial's seed from its index; it now follows the trial's setting and repeat); finish the sweep with that gradsweep, or use --force or rename the sweep",
			ErrConfigChanged, sweep, id, idx, point, repeat, why)
	}
	moved, err := checkStoredTrials(tx, sweep, trials, refuse)
	if err == nil && len(moved) > 0 {
		pl := moved[0]
		err = fmt.Errorf("%w: sweep %q: stored trial %s would be index %d, point %d in this run: the database was written by a gradsweep that planned the same file otherwise; finish the sweep with that gradsweep, or use --force or rename the sweep",
			ErrConfigChanged, sweep, pl.ID, pl.Index, pl.Point)
	}
	return err
}

// moveTrials gives stored trials the index and point of their plans, in
// two steps (first to negative indices) so that UNIQUE(sweep, idx) holds
// after each statement whatever the order of the moves.
func moveTrials(tx *sql.Tx, sweep string, plans []*framework.TrialPlan) error {
	for _, final := range []bool{false, true} {
		for _, pl := range plans {
			idx := -1 - pl.Index
			if final {
				idx = pl.Index
			}
			if _, err := tx.Exec(`UPDATE trials SET idx = ?, point = ? WHERE id = ? AND sweep = ?`, idx, pl.Point, pl.ID, sweep); err != nil {
				return err
			}
		}
	}
	return nil
}

// trialChange says how plan differs from the stored trial of the same id
// (nil: it is not planned any more), or "" if it does not. Its index and
// point are its place, not what it is: they may change.
func trialChange(plan *framework.TrialPlan, repeat int, seed, params, varied string) string {
	switch {
	case plan == nil:
		return "is not planned any more (its setting or its place was removed, or it moved to another shard)"
	case seedText(plan.Seed) != seed:
		return fmt.Sprintf("would get seed %d instead of %s", plan.Seed, seed)
	case plan.Repeat != repeat:
		return fmt.Sprintf("would be repeat %d", plan.Repeat)
	}
	p, err := encodeParams(plan.Params)
	if err != nil {
		return err.Error()
	}
	if p != params {
		return paramsChange(params, p)
	}
	if v, err := encodeVaried(plan.Varied); err != nil || v != varied {
		return fmt.Sprintf("would vary other settings (%s, not %s)", v, varied)
	}
	return ""
}

// paramsChange names the first setting, in sorted order, whose stored
// value (JSON) differs from the planned one.
func paramsChange(stored, planned string) string {
	var a, b map[string]json.RawMessage
	if json.Unmarshal([]byte(stored), &a) != nil || json.Unmarshal([]byte(planned), &b) != nil {
		return "would have other settings"
	}
	keys := slices.Sorted(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		va, inA := a[k]
		vb, inB := b[k]
		switch {
		case !inA:
			return fmt.Sprintf("would get the setting %s = %s", k, vb)
		case !inB:
			return fmt.Sprintf("would lose the setting %s = %s", k, va)
		case string(va) != string(vb):
			return fmt.Sprintf("would change %s from %s to %s", k, va, vb)
		}
	}
	return "would have other settings"
}

// insertMissingTrials inserts the trials whose id is not stored, as
// pending. A stored id of another sweep is an error.
func insertMissingTrials(tx *sql.Tx, sweep string, trials []framework.TrialPlan) (int, error) {
	ins, err := tx.Prepare(`INSERT INTO trials (id, sweep, idx, point, repeat, seed, params, varied, state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending') ON CONFLICT (id) DO NOTHING`)
	if err != nil {
		return 0, err
	}
	defer ins.Close()
	added := 0
	for i := range trials {
		t := &trials[i]
		params, err := encodeParams(t.Params)
		if err != nil {
			return 0, fmt.Errorf("trial %s: %w", t.ID, err)
		}
		varied, err := encodeVaried(t.Varied)
		if err != nil {
			return 0, fmt.Errorf("trial %s: %w", t.ID, err)
		}
		res, err := ins.Exec(t.ID, sweep, t.Index, t.Point, t.Repeat, seedText(t.Seed), params, varied)
		if err != nil {
			return 0, fmt.Errorf("trial %s (index %d): %w", t.ID, t.Index, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			added++
			continue
		}
		var other string
		if err := tx.QueryRow(`SELECT sweep FROM trials WHERE id = ?`, t.ID).Scan(&other); err != nil {
			return 0, err
		}
		if other != sweep {
			return 0, fmt.Errorf("trial id %s is already stored for sweep %q", t.ID, other)
		}
	}
	return added, nil
}

// recoverDead turns the sweep's running trials whose owner is dead into
// interrupted ones, and returns the owners of other processes, alive, that
// hold running trials of the sweep.
func (s *Store) recoverDead(tx *sql.Tx, sweep string) (live []string, err error) {
	rows, err := tx.Stmt(s.otherOwners).Query(sweep, s.owner)
	if err != nil {
		return nil, err
	}
	var owners []sql.NullString
	for rows.Next() {
		var o sql.NullString
		if err := rows.Scan(&o); err != nil {
			rows.Close()
			return nil, err
		}
		owners = append(owners, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, o := range owners {
		if o.Valid && s.ownerAlive(o.String) {
			live = append(live, o.String)
			continue
		}
		if _, err := tx.Exec(`UPDATE trials SET state = 'interrupted'
			WHERE sweep = ? AND state = 'running' AND owner IS ?`, sweep, o); err != nil {
			return nil, err
		}
	}
	return live, nil
}

const (
	// qClaimNext takes the n lowest-index claimable trials (trials_claimable).
	qClaimNext = `UPDATE trials SET state = 'running', owner = ?, started_at = ?, ` + clearOutcome + `
		WHERE id IN (SELECT id FROM trials WHERE sweep = ? AND state IN ('pending', 'interrupted') ORDER BY idx LIMIT ?)
		RETURNING id, idx, point, repeat, seed, params, varied`
	// qOtherOwners lists the owners of other processes' running trials.
	qOtherOwners = `SELECT DISTINCT owner FROM trials
		WHERE sweep = ? AND state = 'running' AND (owner IS NULL OR owner != ?)`
	// qRelease gives back a trial claimed but never started.
	qRelease = `UPDATE trials SET state = 'pending', owner = NULL, started_at = NULL
		WHERE id = ? AND state = 'running' AND owner = ?`
)

// Claiming ahead: a claim transaction that comes within claimWindow of the
// previous one claims twice as many trials as it did, up to maxClaimAhead;
// one that comes later claims half as many, down to one.
const (
	maxClaimAhead = 16
	claimWindow   = 100 * time.Millisecond
)

// Claim takes the sweep's next trial to run: the lowest-index trial that is
// pending or interrupted (running trials of dead owners count as
// interrupted). It becomes running, owned by this Store, with the outcome
// and series of an earlier attempt cleared, in one transaction, so each
// trial is claimed once across goroutines and processes. ok is false when
// no trial is left to claim. An unknown sweep is an error wrapping
// ErrNotFound.
//
// When claims come quickly (short trials), one transaction claims several
// trials ahead, up to maxClaimAhead, and Claim hands them out one by one:
// a transaction per trial would cost more than a short trial's training.
// Trials claimed ahead show as running; PrepareSweep gives back those not
// handed out, and Close those and the ones handed out but never started,
// as pending. So across processes, trials start in index order only
// roughly: a process may hold a few lower ones than another's next.
func (s *Store) Claim(sweep string) (plan framework.TrialPlan, ok bool, err error) {
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	if len(s.ahead[sweep]) == 0 {
		now := s.now()
		if now.Sub(s.lastClaim) < claimWindow {
			s.claimBatch = min(2*s.claimBatch, maxClaimAhead)
		} else {
			s.claimBatch = max(s.claimBatch/2, 1)
		}
		s.lastClaim = now
		plans, err := s.claimTx(sweep, s.claimBatch, now, false)
		if err != nil {
			return framework.TrialPlan{}, false, fmt.Errorf("claim from sweep %q: %w", sweep, err)
		}
		s.ahead[sweep] = plans
	}
	q := s.ahead[sweep]
	if len(q) == 0 {
		return framework.TrialPlan{}, false, nil
	}
	plan, s.ahead[sweep] = q[0], q[1:]
	s.recMu.Lock()
	s.recordings[plan.ID] = &recording{claimed: true, since: s.now()}
	s.recMu.Unlock()
	return plan, true, nil
}

// ClaimAll takes every trial of the sweep left to run (pending,
// interrupted, or running under a dead owner) in one transaction, lowest
// index first, as Claim does one. It is for a run that needs all of them
// at once, a pruned sweep, whose rungs compare every trial: while another
// live process holds trials of the sweep it claims nothing and returns an
// error wrapping ErrSweepBusy. An empty list means nothing is left.
func (s *Store) ClaimAll(sweep string) ([]framework.TrialPlan, error) {
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	now := s.now()
	plans, err := s.claimTx(sweep, -1, now, true)
	if err != nil {
		return nil, fmt.Errorf("claim from sweep %q: %w", sweep, err)
	}
	s.recMu.Lock()
	for _, p := range plans {
		s.recordings[p.ID] = &recording{claimed: true, since: now}
	}
	s.recMu.Unlock()
	return plans, nil
}

// claimTx claims up to n trials (all when n < 0) in one transaction,
// lowest index first. It first checks that the sweep is still what
// PrepareSweep stored (no other process replaced it with --force since),
// and with exclusive that no other live process holds trials of it.
func (s *Store) claimTx(sweep string, n int, now time.Time, exclusive bool) (plans []framework.TrialPlan, err error) {
	err = s.writeTx(func(tx *sql.Tx) error {
		plans = plans[:0]
		if err := s.checkIdentity(tx, sweep); err != nil {
			return err
		}
		live, err := s.recoverDead(tx, sweep)
		if err != nil {
			return err
		}
		if exclusive && len(live) > 0 {
			return busy(sweep, live, "a pruned sweep runs in one process at a time (its rungs compare every trial)")
		}
		rows, err := tx.Stmt(s.claimNext).Query(s.owner, timeText(now), sweep, n)
		if err != nil {
			return err
		}
		known := s.prepared[sweep]
		for rows.Next() {
			p, err := scanClaimed(rows, sweep, known)
			if err != nil {
				rows.Close()
				return err
			}
			plans = append(plans, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(plans) == 0 {
			var one int
			if err := tx.QueryRow(`SELECT 1 FROM sweeps WHERE name = ?`, sweep).Scan(&one); errors.Is(err, sql.ErrNoRows) {
				return s.notFoundSweep(tx, sweep)
			} else if err != nil {
				return err
			}
			return nil
		}
		for _, p := range plans {
			// the series of an earlier attempt (an interrupted trial)
			if err := clearSeries(func(q string, args ...any) error { _, err := tx.Exec(q, args...); return err }, p.ID); err != nil {
				return err
			}
		}
		return nil
	})
	slices.SortFunc(plans, func(a, b framework.TrialPlan) int { return a.Index - b.Index })
	return plans, err
}

// checkIdentity fails, wrapping ErrConfigChanged, when the sweep is no
// longer stored with the config hash and data this Store prepared it with:
// another process replaced it (--force), and claiming its trials would
// train them with this process's other settings.
func (s *Store) checkIdentity(tx *sql.Tx, sweep string) error {
	want, ok := s.identity[sweep]
	if !ok {
		return nil
	}
	var hash string
	var data sql.NullString
	err := tx.QueryRow(`SELECT config_hash, data_id FROM sweeps WHERE name = ?`, sweep).Scan(&hash, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return s.notFoundSweep(tx, sweep)
	} else if err != nil {
		return err
	}
	if hash != want.hash || !sameData(data, want.data) {
		return fmt.Errorf("%w: sweep %q was replaced by another process (--force) while this one ran it: stopping (its config hash is now %s, this run's is %s)",
			ErrConfigChanged, sweep, hash, want.hash)
	}
	return nil
}

// scanClaimed reads a claimed trial's row (qClaimNext's RETURNING). A
// trial PrepareSweep was given is that plan, not decoded again: a trial's
// id stands for its sweep, grid point and repeat, so under the same config
// hash the stored settings are the prepared ones.
func scanClaimed(rows *sql.Rows, sweep string, known map[string]*framework.TrialPlan) (framework.TrialPlan, error) {
	var p framework.TrialPlan
	var seed, params, varied sql.RawBytes
	if err := rows.Scan(&p.ID, &p.Index, &p.Point, &p.Repeat, &seed, &params, &varied); err != nil {
		return p, err
	}
	if k := known[p.ID]; k != nil && k.Index == p.Index && k.Point == p.Point && k.Repeat == p.Repeat &&
		string(seed) == seedText(k.Seed) {
		p = *k
		p.Sweep = sweep
		return p, nil
	}
	p.Sweep = sweep
	var err error
	if p.Seed, err = parseSeed(string(seed)); err != nil {
		return p, err
	}
	if p.Params, err = decodeParams(string(params)); err != nil {
		return p, err
	}
	p.Varied, err = decodeVaried(string(varied))
	return p, err
}

// releaseAhead gives back, as pending, the trials of sweep claimed ahead
// and not handed out; with started, also those of every sweep handed out
// but never started (at Close).
func (s *Store) releaseAhead(sweep string, started bool) error {
	s.claimMu.Lock()
	var ids []string
	for sw, q := range s.ahead {
		if sweep == "" || sw == sweep {
			for _, p := range q {
				ids = append(ids, p.ID)
			}
			delete(s.ahead, sw)
		}
	}
	s.claimMu.Unlock()
	if started {
		s.recMu.Lock()
		for id, r := range s.recordings {
			if r.claimed {
				ids = append(ids, id)
				delete(s.recordings, id)
			}
		}
		s.recMu.Unlock()
	}
	if len(ids) == 0 {
		return nil
	}
	return s.writeTx(func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := tx.Exec(qRelease, id, s.owner); err != nil {
				return err
			}
		}
		return nil
	})
}

type queryer interface {
	Query(string, ...any) (*sql.Rows, error)
}

func (s *Store) notFoundSweep(q queryer, name string) error {
	names, err := column(q, `SELECT name FROM sweeps ORDER BY name`)
	if err != nil {
		return err
	}
	return fmt.Errorf("sweep %q: %w in %s (sweeps stored: %s)", name, ErrNotFound, s.path, someNames(names, 5))
}

func column(q queryer, query string, args ...any) ([]string, error) {
	rows, err := q.Query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
