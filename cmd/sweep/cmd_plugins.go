package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/gradsweep/gradsweep/framework"
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
	all := append(append(describePlugins(reg.Layers), describePlugins(reg.Losses)...), describePlugins(reg.Optimizers)...)
	if *asJSON {
		return writeJSON(env.stdout, all)
	}
	if *markdown {
		writeMarkdown(env, all)
		return nil
	}
	kind := ""
	for _, p := range all {
		if p.Kind != kind {
			kind = p.Kind
			fmt.Fprintf(env.stdout, "\n%s:\n", map[string]string{"layer": "Layers", "loss": "Losses", "optimizer": "Optimizers"}[kind])
		}
		fmt.Fprintf(env.stdout, "  %-22s %s\n", p.Name, p.Doc)
		for _, o := range p.Options {
			extra := ""
			if o.Range != "" {
				extra += " range " + o.Range
			}
			if len(o.Enum) > 0 {
				extra += " one of " + strings.Join(o.Enum, "|")
			}
			def := o.Default
			if def == "" {
				def = "required"
			}
			fmt.Fprintf(env.stdout, "      %-26s %-6s default %-8s %s%s\n", o.Name, o.Type, def, o.Doc, extra)
		}
	}
	return nil
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
			d := o.Default
			if d == "" {
				d = "required"
			}
			extra := ""
			if o.Range != "" {
				extra = ", " + o.Range
			}
			if len(o.Enum) > 0 {
				extra = ", one of " + strings.Join(o.Enum, " ")
			}
			opts = append(opts, fmt.Sprintf("`%s` (%s%s): %s", o.Name, d, extra, o.Doc))
		}
		if len(opts) == 0 {
			opts = []string{"—"}
		}
		fmt.Fprintf(env.stdout, "| `%s` | %s | %s |\n", p.Name, strings.ReplaceAll(p.Doc, "|", "\\|"), strings.ReplaceAll(strings.Join(opts, "<br>"), "|", "\\|"))
	}
}
