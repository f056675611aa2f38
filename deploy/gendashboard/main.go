// Command gendashboard writes the gradsweep Grafana dashboard JSON
// (metrics.Dashboard) to a file or to standard output.
//
//	go run ./deploy/gendashboard -o deploy/grafana/dashboards/gradsweep.json
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gradsweep/gradsweep/metrics"
)

func main() {
	out := flag.String("o", "-", "output file (- for standard output)")
	flag.Parse()
	b, err := metrics.Dashboard()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendashboard:", err)
		os.Exit(1)
	}
	b = append(b, '\n')
	if *out == "-" {
		_, err = os.Stdout.Write(b)
	} else {
		err = os.WriteFile(*out, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendashboard:", err)
		os.Exit(1)
	}
}
