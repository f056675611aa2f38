package main

import (
	"testing"
	"time"
)

// Durations print with about three significant digits, whatever their size.
func TestReadableDuration(t *testing.T) {
	for _, c := range []struct {
		seconds float64
		want    string
	}{
		{0, "0s"},
		{412e-9, "412ns"},
		{41.234e-6, "41.2µs"},
		{3.4567e-3, "3.46ms"},
		{0.0456, "45.6ms"},
		{1.23456, "1.23s"},
		{12.3456, "12.3s"},
		{125.123, "2m5s"},
		{4000.4, "1h6m40s"},
	} {
		if got := readableDuration(c.seconds).String(); got != c.want {
			t.Errorf("readableDuration(%v) = %s, want %s", c.seconds, got, c.want)
		}
	}
	if got := readableDuration(0.5); got != 500*time.Millisecond {
		t.Errorf("0.5 s is %v", got)
	}
}
