package framework

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Registry maps plugin names to factories for one kind of plugin (layer,
// loss, optimizer or schedule). It follows database/sql's Register
// contract: an empty name, a nil factory or a duplicate name panics
// (programming errors, found at start-up); an unknown name is an ordinary
// error that lists the known names and suggests the closest. A Registry
// is a value: tests build a fresh one and never depend on init order.
type Registry[T any] struct {
	kind    string
	mu      sync.RWMutex
	plugins map[string]Plugin[T]
}

// Plugin describes one registered plugin. New must return a fresh pointer to
// a struct whose exported fields carry `opt` tags (see DecodeOptions); the
// struct must implement T.
type Plugin[T any] struct {
	Name string
	Doc  string // one line: what it computes
	New  func() T
}

// NewRegistry returns an empty registry for plugins of the named kind
// ("layer", "loss", "optimizer", "schedule"), used in error messages.
func NewRegistry[T any](kind string) *Registry[T] {
	return &Registry[T]{kind: kind, plugins: map[string]Plugin[T]{}}
}

// Kind is the plugin kind the registry holds.
func (r *Registry[T]) Kind() string { return r.kind }

// Register adds a plugin. It panics if the name is empty or not snake_case,
// if New is nil, or if the name is already registered.
func (r *Registry[T]) Register(p Plugin[T]) {
	if p.Name == "" {
		panic(fmt.Sprintf("gradsweep: Register %s: empty name", r.kind))
	}
	if !isSnakeCase(p.Name) {
		panic(fmt.Sprintf("gradsweep: Register %s %q: name must be lowercase snake_case", r.kind, p.Name))
	}
	if p.New == nil {
		panic(fmt.Sprintf("gradsweep: Register %s %q: nil factory", r.kind, p.Name))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.plugins[p.Name]; dup {
		panic(fmt.Sprintf("gradsweep: Register called twice for %s %q", r.kind, p.Name))
	}
	r.plugins[p.Name] = p
}

// Names returns the registered names, sorted.
func (r *Registry[T]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.plugins))
	for n := range r.plugins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup returns the plugin registered under name, or an error that lists
// the known names and the closest one.
func (r *Registry[T]) Lookup(name string) (Plugin[T], error) {
	r.mu.RLock()
	p, ok := r.plugins[name]
	r.mu.RUnlock()
	if !ok {
		return Plugin[T]{}, UnknownNameError(r.kind, name, r.Names())
	}
	return p, nil
}

// New builds the plugin called name with the given options: defaults are
// filled in, opts are decoded strictly (unknown keys and wrong types are
// errors), ranges are checked, and Validate runs if the plugin has it.
func (r *Registry[T]) New(name string, opts map[string]any) (T, error) {
	var zero T
	p, err := r.Lookup(name)
	if err != nil {
		return zero, err
	}
	v := p.New()
	if err := DecodeOptions(v, opts); err != nil {
		return zero, fmt.Errorf("%s %q: %w", r.kind, name, err)
	}
	return v, nil
}

// Options documents the options of the plugin called name.
func (r *Registry[T]) Options(name string) ([]OptionSpec, error) {
	p, err := r.Lookup(name)
	if err != nil {
		return nil, err
	}
	return OptionSpecs(p.New())
}

// UnknownNameError is the error for a name that is not in known: it lists
// the known names and, when one is close, suggests it.
func UnknownNameError(kind, name string, known []string) error {
	msg := fmt.Sprintf("unknown %s %q (known: %s)", kind, name, strings.Join(known, ", "))
	if c := Closest(name, known); c != "" {
		msg += fmt.Sprintf("; did you mean %q?", c)
	}
	return fmt.Errorf("%s", msg)
}

// Closest returns the candidate nearest to name by edit distance, if it is
// within a third of the name's length (at least 2 edits); else "".
func Closest(name string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(name), c); d < bestD {
			best, bestD = c, d
		}
	}
	if bestD <= max(2, len(name)/3) {
		return best
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func isSnakeCase(s string) bool {
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		case c == '_' && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}

// Builtins collects a plugin package's plugins (each file adds its own from
// a package-level var, so all are collected before any init runs) and
// registers them into the default registry or a fresh one.
type Builtins[T any] struct{ plugins []Plugin[T] }

// Add collects p; it returns true so that a plugin file can write
// `var _ = builtins.Add(...)`.
func (b *Builtins[T]) Add(p Plugin[T]) bool {
	b.plugins = append(b.plugins, p)
	return true
}

// RegisterInto registers every collected plugin in r.
func (b *Builtins[T]) RegisterInto(r *Registry[T]) {
	for _, p := range b.plugins {
		r.Register(p)
	}
}
