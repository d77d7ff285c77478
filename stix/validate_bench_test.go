package stix

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// corpusObjects returns the objects of the STIX bundles named by
// TAXIID_STIX_CORPUS (files or directories of *.json, separated by ':'),
// skipping the benchmark when it is unset. Real data sets such as MITRE
// ATT&CK are too large to ship with the tests.
func corpusObjects(b *testing.B) []json.RawMessage {
	b.Helper()
	spec := os.Getenv("TAXIID_STIX_CORPUS")
	if spec == "" {
		b.Skip("TAXIID_STIX_CORPUS is not set")
	}
	var files []string
	for _, p := range strings.Split(spec, ":") {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			m, _ := filepath.Glob(filepath.Join(p, "*.json"))
			files = append(files, m...)
		} else {
			files = append(files, p)
		}
	}
	var objs []json.RawMessage
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		var bundle struct {
			Objects []json.RawMessage `json:"objects"`
		}
		if err := json.Unmarshal(raw, &bundle); err != nil {
			b.Fatalf("%s: %v", f, err)
		}
		objs = append(objs, bundle.Objects...)
	}
	return objs
}

// BenchmarkValidate measures the whole validation of an object as pushed
// (JSON bytes in, identity and findings out) at the default level, on the
// TAXIID_STIX_CORPUS bundles; run with -cpu 1,2 for one and two cores.
// Besides objects/s it reports the CPU time per object, which other work
// on a busy machine does not inflate.
//
//	TAXIID_STIX_CORPUS=path/to/attack-bundles go test ./stix -run '^$' -bench Validate -cpu 1,2
func BenchmarkValidate(b *testing.B) {
	objs := corpusObjects(b)
	v, err := NewValidator(Options{})
	if err != nil {
		b.Fatal(err)
	}
	var invalid, next atomic.Int64
	b.ResetTimer()
	start, cpu := time.Now(), processCPUTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			if _, _, err := v.Validate(objs[int(i)%len(objs)], LevelDefault); err != nil {
				invalid.Add(1)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "objects/s")
	b.ReportMetric(float64(processCPUTime()-cpu)/float64(b.N)/1e3, "cpu-µs/object")
	b.ReportMetric(float64(invalid.Load())/float64(b.N)*100, "%invalid")
}
