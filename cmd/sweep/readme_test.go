package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"strings"
	"testing"
)

// The README's plugin tables are `sweep plugins --markdown`, and it names
// every command and every flag: a changed plugin or a new flag without its
// documentation fails here.
func TestREADMEIsTrue(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"plugins", "--markdown"}, &out, &out); code != 0 {
		t.Fatal(out.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if line != "" && !bytes.Contains(readme, []byte(line)) {
			t.Errorf("README lacks plugin table line:\n%s", line)
		}
	}
	for _, c := range commands {
		if !bytes.Contains(readme, []byte("`sweep "+c.name)) {
			t.Errorf("README does not document `sweep %s`", c.name)
		}
		// every flag the command defines appears in the README
		var help bytes.Buffer
		run(context.Background(), []string{c.name, "-h"}, &help, &help)
		for _, line := range strings.Split(help.String(), "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "-") {
				name := "--" + strings.Fields(line)[0][1:]
				if !bytes.Contains(readme, []byte(name)) {
					t.Errorf("README does not mention %s of sweep %s", name, c.name)
				}
			}
		}
	}
}

var _ = flag.ErrHelp
