package sweep

import (
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
)

// claimStore hands out its trials in order, as another process's batch
// may reach this run before the run has proposed it.
type claimStore struct {
	Store  // only Claim is called
	trials []framework.TrialPlan
}

func (s *claimStore) Claim(string) (framework.TrialPlan, bool, error) {
	if len(s.trials) == 0 {
		return framework.TrialPlan{}, false, nil
	}
	p := s.trials[0]
	s.trials = s.trials[1:]
	return p, true, nil
}

// A trial claimed before this run proposed it is held, not run: the batch
// ends there; once the run has proposed it, it is handed out first. One
// the run never proposes is an error.
func TestTPEQueueHoldsUnproposedTrials(t *testing.T) {
	known := []framework.TrialPlan{{ID: "a", Index: 0}, {ID: "b", Index: 1}}
	later := framework.TrialPlan{ID: "c", Index: 2}
	q := newQueue(known, &claimStore{trials: []framework.TrialPlan{known[1], later}}, "s")
	q.tpe = true
	if p, ok, err := q.claim(); !ok || err != nil || p.ID != "b" {
		t.Fatalf("first claim: %v %v %v", p.ID, ok, err)
	}
	if p, ok, err := q.claim(); ok || err != nil {
		t.Fatalf("an unproposed trial was handed out: %v %v", p.ID, err)
	}
	if _, ok, _ := q.claim(); ok {
		t.Fatal("the queue went on past a held trial")
	}
	if err := q.checkHeld(); err == nil || !strings.Contains(err.Error(), "stored trial c (index 2) is not one this run proposes") {
		t.Fatalf("checkHeld with an unknown trial: %v", err)
	}
	q.setPlans(append(known, later))
	if err := q.checkHeld(); err != nil {
		t.Fatal(err)
	}
	if p, ok, err := q.claim(); !ok || err != nil || p.ID != "c" {
		t.Fatalf("after proposing: %v %v %v", p.ID, ok, err)
	}
	if _, ok, _ := q.claim(); ok {
		t.Fatal("a trial out of nothing")
	}
	// another sequence of settings at the same index
	q = newQueue(known, &claimStore{trials: []framework.TrialPlan{{ID: "x", Index: 1}}}, "s")
	q.tpe = true
	if _, ok, _ := q.claim(); ok {
		t.Fatal("a trial whose id differs from the proposed one was handed out")
	}
	if err := q.checkHeld(); err == nil {
		t.Fatal("no error for a stored trial of another sequence")
	}
}
