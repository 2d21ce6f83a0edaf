package fuzz

import (
	"testing"
	"time"
)

func TestReplyTimer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		sample    func(i int) time.Duration
		n         int
		ok        bool
		wait, qui time.Duration
	}{
		{"not calibrated yet", func(int) time.Duration { return time.Millisecond }, calibrationSamples - 1, false, 0, 0},
		{"a fast target: the floors", func(int) time.Duration { return 100 * time.Microsecond }, calibrationSamples, true, minWait, minQuiet},
		{"50 and 5 times the p99", func(i int) time.Duration {
			if i%50 == 49 {
				return 10 * time.Millisecond // 2% of the replies
			}
			return time.Millisecond
		}, 1000, true, 500 * time.Millisecond, 50 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rt replyTimer
			for i := range tc.n {
				rt.observe(tc.sample(i))
			}
			wait, quiet, ok := rt.waits()
			if ok != tc.ok || wait != tc.wait || quiet != tc.qui {
				t.Errorf("waits() = %v, %v, %v; want %v, %v, %v", wait, quiet, ok, tc.wait, tc.qui, tc.ok)
			}
		})
	}
}
