package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
)

type pluginJSON struct {
	Kind    string                 `json:"kind"`
	Name    string                 `json:"name"`
	Doc     string                 `json:"doc"`
	Options []framework.OptionSpec `json:"options"`
}

func describePlugins[T any](r *framework.Registry[T]) []pluginJSON {
	var out []pluginJSON
	for _, name := range r.Names() {
		p, _ := r.Lookup(name)
		opts, _ := r.Options(name)
		if opts == nil {
			opts = []framework.OptionSpec{}
		}
		out = append(out, pluginJSON{Kind: r.Kind(), Name: name, Doc: p.Doc, Options: opts})
	}
	return out
}

func cmdPlugins(env *env, args []string) error {
	fs := flag.NewFlagSet("plugins", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	markdown := fs.Bool("markdown", false, "print Markdown tables (the README's plugin reference)")
	if _, err := parse(fs, args, 0, 0, ""); err != nil {
		return err
	}
	reg := framework.Default()
	all := append(append(append(describePlugins(reg.Layers), describePlugins(reg.Losses)...), describePlugins(reg.Optimizers)...), describePlugins(reg.Schedules)...)
	all = append(append(append(all, describePlugins(framework.Sources)...), describePlugins(framework.Functions)...), describePlugins(framework.Pruners)...)
	keys := experiment.Keys()
	if *asJSON {
		return writeJSON(env.stdout, map[string]any{"experiment_keys": keys, "plugins": all})
	}
	if *markdown {
		writeKeysMarkdown(env, keys)
		writeMarkdown(env, all)
		return nil
	}
	fmt.Fprintf(env.stdout, "Experiment keys:\n")
	for _, o := range keys {
		writeOptionLine(env, "  ", o)
	}
	kind := ""
	for _, p := range all {
		if p.Kind != kind {
			kind = p.Kind
			fmt.Fprintf(env.stdout, "\n%s:\n", map[string]string{"layer": "Layers", "loss": "Losses", "optimizer": "Optimizers", "schedule": "Schedules",
				"data source": "Data sources (dataset: {NAME: ..., options})", "function": "Test functions (dataset: {function: NAME, ...})", "pruner": "Pruners"}[kind])
		}
		fmt.Fprintf(env.stdout, "  %-22s %s\n", p.Name, p.Doc)
		for _, o := range p.Options {
			writeOptionLine(env, "      ", o)
		}
	}
	return nil
}

// writeOptionLine prints one option or key: name, type, default, doc, and
// its range or values.
func writeOptionLine(env *env, indent string, o framework.OptionSpec) {
	fmt.Fprintf(env.stdout, "%s%-28s %-8s default %-8s %s%s\n", indent, o.Name, o.Type, defaultOf(o), o.Doc, valuesOf(o, " range ", " one of ", "|"))
}

// defaultOf is an option's default as the tables show it.
func defaultOf(o framework.OptionSpec) string {
	switch {
	case o.Default != "":
		return o.Default
	case o.Required:
		return "required"
	case o.Type == "bool":
		return "false"
	}
	return "none"
}

// valuesOf writes an option's range or enumeration (or "" for none).
func valuesOf(o framework.OptionSpec, rangePrefix, enumPrefix, sep string) string {
	switch {
	case len(o.Enum) > 0:
		return enumPrefix + strings.Join(o.Enum, sep)
	case o.Range != "":
		s := rangePrefix + o.Range
		for _, w := range o.Words {
			s += " or " + strings.Split(w, "=")[0]
		}
		return s
	}
	return ""
}

// writeKeysMarkdown prints the experiment file's keys as the README's
// key table.
func writeKeysMarkdown(env *env, keys []framework.OptionSpec) {
	fmt.Fprintf(env.stdout, "\n| key | type | default | values | meaning |\n| --- | --- | --- | --- | --- |\n")
	for _, o := range keys {
		fmt.Fprintf(env.stdout, "| `%s` | %s | %s | %s | %s |\n", o.Name, o.Type, defaultOf(o),
			strings.ReplaceAll(valuesOf(o, "", "", " \\| "), "|", "\\|"), strings.ReplaceAll(o.Doc, "|", "\\|"))
	}
}

func writeMarkdown(env *env, all []pluginJSON) {
	kind := ""
	for _, p := range all {
		if p.Kind != kind {
			kind = p.Kind
			fmt.Fprintf(env.stdout, "\n| %s | what it computes | options (default, range) |\n| --- | --- | --- |\n", kind)
		}
		var opts []string
		for _, o := range p.Options {
			opts = append(opts, fmt.Sprintf("`%s` (%s%s): %s", o.Name, defaultOf(o), valuesOf(o, ", ", ", one of ", " "), o.Doc))
		}
		if len(opts) == 0 {
			opts = []string{"—"}
		}
		fmt.Fprintf(env.stdout, "| `%s` | %s | %s |\n", p.Name, strings.ReplaceAll(p.Doc, "|", "\\|"), strings.ReplaceAll(strings.Join(opts, "<br>"), "|", "\\|"))
	}
}
