// Package losses holds the built-in loss plugins, one file each. Importing
// the package registers them in framework.Losses; Register adds them to any
// other registry.
package losses

import "github.com/gradsweep/gradsweep/framework"

var builtins framework.Builtins[framework.Loss]

func add(p framework.Plugin[framework.Loss]) bool { return builtins.Add(p) }

// Register adds every built-in loss to r.
func Register(r *framework.Registry[framework.Loss]) { builtins.RegisterInto(r) }

func init() { Register(framework.Losses) }
