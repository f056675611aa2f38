package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
	_ "github.com/gradsweep/gradsweep/plugins"
)

// Exit codes.
const (
	exitOK          = 0
	exitError       = 1   // runtime error (I/O, database) or internal error (a panic)
	exitUsage       = 2   // bad usage or bad experiment file
	exitTrialFailed = 3   // the sweep finished but some trials failed
	exitInterrupted = 130 // stopped by SIGINT/SIGTERM/SIGUSR1; finished trials are kept
)

// usageError marks errors that exit with code 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

type command struct {
	name, args, summary string
	run                 func(env *env, args []string) error
}

// env is what every command gets: its output streams.
type env struct {
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
}

var commands []command

func init() {
	commands = []command{
		{"run", "FILE", "train every trial of an experiment (resumes an interrupted sweep)", cmdRun},
		{"validate", "FILE", "check an experiment file and its data without running it", cmdValidate},
		{"list", "", "list the sweeps in the database", cmdList},
		{"show", "TRIAL|SWEEP", "show one trial (settings, state, metrics) or one sweep", cmdShow},
		{"best", "SWEEP", "rank the grid points of a sweep by a metric (mean ± std over repeats)", cmdBest},
		{"export", "SWEEP", "export every trial of a sweep as CSV or JSON", cmdExport},
		{"lrfind", "FILE", "learning-rate range test: one run with a growing rate, and the rates it suggests", cmdLRFind},
		{"report", "SWEEP", "write the HTML report with loss-curve pictures", cmdReport},
		{"plugins", "", "list every layer, loss, optimizer and schedule with its options", cmdPlugins},
		{"dashboard", "", "write the Grafana dashboard (JSON)", cmdDashboard},
		{"merge", "OUT.db IN.db...", "merge shard databases into one", cmdMerge},
		{"bench", "", "time the reference MLP training workload (one JSON line)", cmdBench},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: sweep COMMAND [flags] [args]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %-17s %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintln(w, "\n'sweep help COMMAND' (or 'sweep COMMAND -h') lists a command's flags; 'sweep --version' prints the version.")
}

// version is the module's version and the commit it was built from, as
// the Go toolchain recorded them: "sweep v1.2.0", or for a build from a
// checkout "sweep (devel) commit 2c8de1d 2026-11-30T14:00:00Z (modified)".
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "sweep: no build information"
	}
	s := "sweep " + bi.Main.Version
	settings := map[string]string{}
	for _, kv := range bi.Settings {
		settings[kv.Key] = kv.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		s += " commit " + rev[:min(12, len(rev))]
		if t := settings["vcs.time"]; t != "" {
			s += " " + t
		}
		if settings["vcs.modified"] == "true" {
			s += " (modified)"
		}
	}
	return s + " " + bi.GoVersion
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 2 && args[0] == "help" {
		args = []string{args[1], "-h"} // 'sweep help run' is 'sweep run -h'
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if args[0] == "--version" || args[0] == "version" {
		fmt.Fprintln(stdout, version())
		return exitOK
	}
	e := &env{ctx: ctx, stdout: stdout, stderr: stderr}
	for _, c := range commands {
		if c.name == args[0] {
			return runCommand(c, e, args[1:])
		}
	}
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	fmt.Fprintf(stderr, "sweep: %v\n", framework.UnknownNameError("command", args[0], names))
	return exitUsage
}

// runCommand runs c and returns its exit code. A panic in the command is
// a bug, not bad input: it exits 1 with "internal error" and the stack on
// standard error.
func runCommand(c command, e *env, args []string) (code int) {
	defer func() {
		if v := recover(); v != nil {
			fmt.Fprintf(e.stderr, "sweep: internal error: %v\n(a bug in sweep %s; please report it with this stack)\n%s", v, c.name, debug.Stack())
			code = exitError
		}
	}()
	return exitCode(c.run(e, args), e.stderr)
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var code *exitErr
	if errors.As(err, &code) {
		switch {
		case code.code == exitOK: // help text
			fmt.Fprint(stderr, strings.TrimPrefix(code.msg, "\n"))
		case code.msg != "":
			fmt.Fprintf(stderr, "sweep: %s\n", code.msg)
		}
		return code.code
	}
	fmt.Fprintf(stderr, "sweep: %v\n", err)
	var u usageError
	var ee *experiment.Error
	if errors.As(err, &u) || errors.As(err, &ee) {
		return exitUsage
	}
	return exitError
}

// exitErr carries a specific exit code.
type exitErr struct {
	code int
	msg  string
}

func (e *exitErr) Error() string { return e.msg }

// parse parses flags that may come before or after the positional
// arguments ("sweep run FILE --workers 2"), and checks the count of
// positional arguments.
func parse(fs *flag.FlagSet, args []string, minPos, maxPos int, argsHelp string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				var b strings.Builder
				fs.SetOutput(&b)
				fmt.Fprintf(&b, "usage: sweep %s [flags] %s\n", fs.Name(), argsHelp)
				fs.PrintDefaults()
				return nil, &exitErr{code: exitOK, msg: "\n" + b.String()}
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) > 0 {
			if args[0] == "--" {
				pos = append(pos, args[1:]...)
				break
			}
			pos = append(pos, args[0])
			args = args[1:]
		}
	}
	if len(pos) < minPos || (maxPos >= 0 && len(pos) > maxPos) {
		return nil, usagef("usage: sweep %s [flags] %s", fs.Name(), argsHelp)
	}
	return pos, nil
}

func sortedStatuses(m map[framework.Status]int) []string {
	var out []string
	for s, n := range m {
		if n > 0 {
			out = append(out, fmt.Sprintf("%s %d", s, n))
		}
	}
	sort.Strings(out)
	return out
}
