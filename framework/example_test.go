package framework_test

import (
	"fmt"

	"github.com/gradsweep/gradsweep/framework"
)

// Every keeps every n-th trial at each checkpoint: a toy pruner, written as
// any plugin is. Its options are tagged fields: the tags give each option's
// default, valid range and documentation, and the registry decodes them
// strictly from an experiment file.
type Every struct {
	N     int `opt:"n" default:"2" range:"[1,100]" doc:"keep one trial in n"`
	After int `opt:"after" default:"1" range:"[1,]" doc:"the one checkpoint epoch"`
}

// Checkpoints is the one epoch After.
func (e *Every) Checkpoints(maxEpochs int) []int {
	if e.After >= maxEpochs {
		return nil
	}
	return []int{e.After}
}

// Prune keeps members 0, N, 2N, ...
func (e *Every) Prune(members []framework.RungMember) []bool {
	pruned := make([]bool, len(members))
	for i := range members {
		pruned[i] = i%e.N != 0
	}
	return pruned
}

// Writing a plugin and building a registry: register the plugin under a
// snake_case name, then build it from options as an experiment file's
// `pruner: {type: every, n: 3}` would. Unknown names and options are
// errors that suggest the closest known one.
func ExampleRegistry() {
	r := framework.NewRegistry[framework.Pruner]("pruner")
	r.Register(framework.Plugin[framework.Pruner]{Name: "every", Doc: "keep every n-th trial",
		New: func() framework.Pruner { return new(Every) }})

	p, err := r.New("every", map[string]any{"n": 3})
	fmt.Println(p.Checkpoints(10), p.Prune(make([]framework.RungMember, 4)), err)

	opts, _ := r.Options("every")
	for _, o := range opts {
		fmt.Printf("%s (%s, default %s, range %s): %s\n", o.Name, o.Type, o.Default, o.Range, o.Doc)
	}

	_, err = r.New("every", map[string]any{"n": 0})
	fmt.Println(err)
	_, err = r.New("evry", nil)
	fmt.Println(err)
	// Output:
	// [1] [false true true false] <nil>
	// n (int, default 2, range [1,100]): keep one trial in n
	// after (int, default 1, range [1,]): the one checkpoint epoch
	// pruner "every": option "n": must be an integer from 1 to 100, got 0
	// unknown pruner "evry" (known: every); did you mean "every"?
}
