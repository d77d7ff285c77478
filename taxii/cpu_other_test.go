//go:build !unix

package taxii_test

import (
	"testing"
	"time"
)

// processCPU is not measured here: CPU per page reads as zero.
func processCPU(b *testing.B) time.Duration { return 0 }
