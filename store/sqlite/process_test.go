package sqlite

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gradsweep/gradsweep/framework"
)

// The helper-process pattern: the test binary re-executed with
// GRADSWEEP_SQLITE_HELPER set runs helperMain instead of the tests.
const helperEnv = "GRADSWEEP_SQLITE_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := helperMain(mode, os.Getenv("HELPER_DB"), os.Getenv("HELPER_SWEEP")); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func helperMain(mode, path, sweep string) error {
	s, err := Open(path)
	if err != nil {
		return err
	}
	defer s.Close()
	switch mode {
	case "claim-all": // when told to start, claim and finish trials until none is left
		fmt.Println("ready")
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			return err
		}
		for {
			p, ok, err := s.Claim(sweep)
			if err != nil {
				return err
			}
			if !ok {
				return s.Flush()
			}
			fmt.Printf("claimed %s\n", p.ID)
			time.Sleep(3 * time.Millisecond) // "training", so that processes interleave
			finish(s, &p, framework.Completed, 0.25)
			if err := s.Err(); err != nil {
				return err
			}
		}
	case "claim-hang": // claim one trial, start it, then wait to be killed
		p, ok, err := s.Claim(sweep)
		if err != nil || !ok {
			return fmt.Errorf("claim: %v %v", ok, err)
		}
		s.TrialStarted(&p)
		for i := 1; i <= 50; i++ {
			s.Iteration(&p, framework.IterationStats{Epoch: 1, Iteration: i, BatchSize: 1, Loss: 1 / float64(i)})
		}
		if err := s.Flush(); err != nil {
			return err
		}
		fmt.Printf("claimed %s owner %s\n", p.ID, s.Owner())
		time.Sleep(time.Hour)
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

func helper(t *testing.T, mode, path, sweep string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "HELPER_DB="+path, "HELPER_SWEEP="+sweep)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, bufio.NewScanner(out)
}

func helperStdin(t *testing.T, mode, path, sweep string) (*exec.Cmd, *bufio.Scanner, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "HELPER_DB="+path, "HELPER_SWEEP="+sweep)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, bufio.NewScanner(out), in
}

func TestClaimProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sweeps.db")
	s := openStore(t, path)
	info := sweepInfo("procs", "h")
	plans := makePlans(info.Name, 60)
	if err := s.PrepareSweep(info, plans, false); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	perProc := make([]int, 3)
	var gos []io.WriteCloser
	var scs []*bufio.Scanner
	var cmds []*exec.Cmd
	for i := 0; i < 3; i++ {
		cmd, sc, in := helperStdin(t, "claim-all", path, info.Name)
		if !sc.Scan() || sc.Text() != "ready" {
			t.Fatalf("helper %d not ready: %q", i, sc.Text())
		}
		gos, scs, cmds = append(gos, in), append(scs, sc), append(cmds, cmd)
	}
	for _, in := range gos { // start together
		io.WriteString(in, "go\n")
		in.Close()
	}
	for i := 0; i < 3; i++ {
		cmd, sc := cmds[i], scs[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sc.Scan() {
				if id, ok := strings.CutPrefix(sc.Text(), "claimed "); ok {
					mu.Lock()
					ids = append(ids, id)
					perProc[i]++
					mu.Unlock()
				}
			}
			if err := cmd.Wait(); err != nil {
				t.Errorf("helper %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	checkExactlyOnce(t, plans, ids)
	t.Logf("claims per process: %v", perProc)
	for i, n := range perProc {
		if n == 0 {
			t.Logf("helper %d claimed nothing (scheduling)", i)
		}
	}
	states, err := s.TrialStates(info.Name)
	if err != nil {
		t.Fatal(err)
	}
	for id, st := range states {
		if st != framework.Completed {
			t.Errorf("%s is %s", id, st)
		}
	}
	d, err := s.LoadSweep(info.Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, td := range d.Trials {
		if len(td.EpochSeries) != 1 || len(td.BatchLoss) != 4 {
			t.Errorf("trial %s: %d epochs, %d batch losses", td.Plan.ID, len(td.EpochSeries), len(td.BatchLoss))
		}
	}
	integrityOK(t, path)
}

func TestDeadOwnerRecovery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sweeps.db")
	s := openStore(t, path)
	info := sweepInfo("crash", "h")
	plans := makePlans(info.Name, 4)
	if err := s.PrepareSweep(info, plans, false); err != nil {
		t.Fatal(err)
	}
	cmd, sc := helper(t, "claim-hang", path, info.Name)
	if !sc.Scan() {
		t.Fatalf("helper said nothing: %v", sc.Err())
	}
	var id, owner string
	if _, err := fmt.Sscanf(sc.Text(), "claimed %s owner %s", &id, &owner); err != nil || id != plans[0].ID {
		t.Fatalf("helper: %q %v", sc.Text(), err)
	}
	lock := filepath.Join(path+".owners", owner+".lock")
	if _, err := os.Stat(lock); err != nil {
		t.Fatal(err)
	}

	// While the helper lives, its trial is not taken.
	p, ok, err := s.Claim(info.Name)
	if err != nil || !ok || p.ID != plans[1].ID {
		t.Fatalf("claim while helper alive: %s %v %v", p.ID, ok, err)
	}
	if err := s.PrepareSweep(info, plans, false); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.TrialStates(info.Name); st[id] != framework.Running {
		t.Fatalf("live helper's trial is %s", st[id])
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	// Reads already see it interrupted; PrepareSweep records it.
	if st, _ := s.TrialStates(info.Name); st[id] != framework.Interrupted {
		t.Fatalf("dead helper's trial reads as %s", st[id])
	}
	if err := s.PrepareSweep(info, plans, false); err != nil {
		t.Fatal(err)
	}
	var state string
	rawDB(t, path).QueryRow(`SELECT state FROM trials WHERE id = ?`, id).Scan(&state)
	if state != "interrupted" {
		t.Fatalf("after PrepareSweep the dead owner's trial is %s", state)
	}
	if _, err := os.Stat(lock); !os.IsNotExist(err) {
		t.Fatalf("stale lock file left: %v", err)
	}
	td, err := s.LoadTrial(id)
	if err != nil || len(td.BatchLoss) != 50 {
		t.Fatalf("helper's committed writes: %v %d", err, len(td.BatchLoss))
	}
	p, ok, err = s.Claim(info.Name)
	if err != nil || !ok || p.ID != id {
		t.Fatalf("reclaim: %s %v %v", p.ID, ok, err)
	}
	s.TrialStarted(&p) // a new attempt clears the old series
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if td, _ := s.LoadTrial(id); len(td.BatchLoss) != 0 || td.Status != framework.Running {
		t.Fatalf("restarted trial: %s, %d batch losses", td.Status, len(td.BatchLoss))
	}
	integrityOK(t, path)

	// Claim alone (without PrepareSweep) also recovers a dead owner's trial.
	cmd, sc = helper(t, "claim-hang", path, info.Name)
	if !sc.Scan() {
		t.Fatal("helper 2 said nothing")
	}
	fmt.Sscanf(sc.Text(), "claimed %s owner %s", &id, &owner)
	if id == p.ID || id == "" { // the helper's next is after ours, or after those we claimed ahead
		t.Fatalf("helper 2 claimed %q", id)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	// (after any trial this store claimed ahead)
	for p.ID != id {
		if p, ok, err = s.Claim(info.Name); err != nil || !ok {
			t.Fatalf("claim after second crash: %s %v %v (want %s)", p.ID, ok, err, id)
		}
	}
	integrityOK(t, path)
}

func TestReadersDuringWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sweeps.db")
	w := openStore(t, path)
	r := openStore(t, path) // another connection set, as another process would have
	info := sweepInfo("busy", "h")
	plans := makePlans(info.Name, 12)
	claimed := sweepInfo("claimed", "h")
	if err := w.PrepareSweep(info, plans, false); err != nil {
		t.Fatal(err)
	}
	if err := r.PrepareSweep(claimed, makePlans(claimed.Name, 100), false); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	reads := make([]int, 3)
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := []*Store{w, r}[g%2]
			for {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				switch reads[g] % 3 {
				case 0:
					_, err = st.LoadSweep(info.Name)
				case 1:
					_, err = st.ListSweeps()
				case 2:
					_, err = st.TrialStates(info.Name)
				}
				if err != nil {
					errs <- fmt.Errorf("reader %d: %w", g, err)
					return
				}
				reads[g]++
			}
		}()
	}
	// Writers: the Sink of w, and claims through r.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			p, ok, err := r.Claim(claimed.Name)
			if err != nil {
				errs <- err
				return
			}
			if !ok {
				return
			}
			r.TrialStarted(&p)
			r.TrialFinished(&p, framework.TrialOutcome{Status: framework.Completed})
		}
	}()
	start := time.Now()
	for i := range plans {
		p := &plans[i]
		w.TrialStarted(p)
		for it := 1; it <= 3000; it++ {
			w.Iteration(p, framework.IterationStats{Epoch: 1 + it/1000, Iteration: it, BatchSize: 32, Loss: 1 / float64(it)})
			if it%1000 == 0 {
				w.Epoch(p, framework.EpochStats{Epoch: it / 1000, Iteration: it, TrainLoss: 0.1, ValLoss: 0.2,
					TrainAccuracy: nan, ValAccuracy: nan})
			}
		}
		w.TrialFinished(p, framework.TrialOutcome{Status: framework.Completed})
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	writeTime := time.Since(start)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("wrote 36000 batch losses in %v; reads %v", writeTime, reads)
	for g, n := range reads {
		if n == 0 {
			t.Errorf("reader %d never read", g)
		}
	}
	var n int
	rawDB(t, path).QueryRow(`SELECT count(*) FROM batch_loss`).Scan(&n)
	if n != 36000 {
		t.Fatalf("%d batch losses stored, want all 36000", n)
	}
	integrityOK(t, path)
}

// Several processes (here: Stores) creating the same file at the same time
// all open it: the switch to WAL takes a lock SQLite does not wait for, so
// Open retries it.
func TestConcurrentOpensOfAFreshFile(t *testing.T) {
	for round := range 20 {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("fresh%d.db", round))
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for range cap(errs) {
			wg.Go(func() {
				s, err := Open(path)
				if err == nil {
					err = s.Close()
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}
