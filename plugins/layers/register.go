// Package layers holds the built-in layer plugins, one file each. Importing
// the package registers them in framework.Layers; Register adds them to any
// other registry (tests build fresh ones).
package layers

import "github.com/gradsweep/gradsweep/framework"

var builtins framework.Builtins[framework.Layer]

func add(p framework.Plugin[framework.Layer]) bool { return builtins.Add(p) }

// Register adds every built-in layer to r.
func Register(r *framework.Registry[framework.Layer]) { builtins.RegisterInto(r) }

func init() { Register(framework.Layers) }
