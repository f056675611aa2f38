// Command sweep runs neural-network training experiments: it trains every
// combination of learning rate, batch size, epochs and optimizer that an
// experiment file describes, keeps every number in SQLite, and answers
// which setting gives good results for little time.
package main

import (
	"context"
	"os"
)

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }
