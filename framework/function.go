package framework

// Function is a plugin kind: a 2-D test function of optimization
// (quadratic, rosenbrock, ...), the landscape the `function` data source
// trains a point on. The point's coordinates are float32 parameters like
// every model's; Eval works in float64 on their values.
type Function interface {
	// Eval returns f(x, y) and its gradient (∂f/∂x, ∂f/∂y).
	Eval(x, y float64) (f, dx, dy float64)
}

// Functions is the registry of test functions, filled by package
// plugins/functions.
var Functions = NewRegistry[Function]("function")

// NewFunction builds the test function name from Functions, with the
// option condition when given (hasCondition). Errors are *OptionError on
// the option at fault: "function" (unknown name) or "condition" (refused
// by the function).
func NewFunction(name string, condition float64, hasCondition bool) (Function, error) {
	if _, err := Functions.Lookup(name); err != nil {
		return nil, &OptionError{Option: "function", Err: err}
	}
	opts := map[string]any{}
	if hasCondition {
		opts["condition"] = condition
	}
	f, err := Functions.New(name, opts)
	if err != nil {
		return nil, &OptionError{Option: "condition", Err: err}
	}
	return f, nil
}
