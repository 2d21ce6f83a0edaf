//go:build !unix

package load

// CheckLimits has no limits to compare on this system.
func CheckLimits(maxConns int, churnRate float64) []string { return nil }
