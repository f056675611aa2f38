package sqlite

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// The README's "The results database" section is SCHEMA.md, word for word,
// so the schema users read is the one this package writes.
func TestReadmeCarriesSchemaDoc(t *testing.T) {
	doc, err := os.ReadFile("SCHEMA.md")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	r := string(readme)
	start := strings.Index(r, "## The results database\n")
	end := strings.Index(r, "\n## Reports\n")
	if start < 0 || end < start {
		t.Fatal(`README.md lacks the sections "## The results database" and "## Reports"`)
	}
	if got, want := strings.TrimSpace(r[start:end]), strings.TrimSpace(string(doc)); got != want {
		t.Fatal("README.md's results database section differs from store/sqlite/SCHEMA.md: copy SCHEMA.md into it")
	}
	if !strings.Contains(string(doc), "(currently "+strconv.Itoa(SchemaVersion())+")") {
		t.Errorf("SCHEMA.md does not give the current schema version %d", SchemaVersion())
	}
}
