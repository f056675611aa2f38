package optimizers

// SetSplitElems sets the least number of weights an update splits off to a
// lent thread and returns the previous one (1: split every update).
func SetSplitElems(n int) int {
	old := splitElems
	splitElems = max(n, 1)
	return old
}
