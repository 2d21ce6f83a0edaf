//go:build !unix

package load

// CheckLimits has no limits to compare on this system.
func CheckLimits(cfg Config) []string { return nil }
