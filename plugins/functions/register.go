// Package functions holds the 2-D test functions of optimization, one
// file each, with the formula in its doc comment. Importing the package
// registers them in framework.Functions; the `function` data source trains
// a point on them (see framework/data.FunctionSource).
package functions

import "github.com/gradsweep/gradsweep/framework"

var builtins framework.Builtins[framework.Function]

func add(p framework.Plugin[framework.Function]) bool { return builtins.Add(p) }

// Register adds every built-in function to r.
func Register(r *framework.Registry[framework.Function]) { builtins.RegisterInto(r) }

func init() { Register(framework.Functions) }
