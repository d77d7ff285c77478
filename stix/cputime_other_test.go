//go:build !unix

package stix

import "time"

// processCPUTime is unknown here; benchmarks report 0.
func processCPUTime() time.Duration { return 0 }
