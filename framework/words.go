package framework

import "strconv"

// Count is n with the noun in the singular (one) when n is 1, else in the
// plural (many): Count(1, "epoch", "epochs") is "1 epoch", Count(0,
// "output", "outputs") "0 outputs".
func Count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
