//go:build !linux

package load

func newWaker() waker { return newTimerWaker() }
