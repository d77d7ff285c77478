package stix

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// schemaBenchObjects decodes the valid test objects of the given types (all when
// none is given).
func schemaBenchObjects(b *testing.B, types ...string) []map[string]any {
	b.Helper()
	files, err := filepath.Glob(filepath.Join(schemaValidDir, "*.json"))
	if err != nil || len(files) == 0 {
		b.Fatalf("no valid objects in %s: %v", schemaValidDir, err)
	}
	want := map[string]bool{}
	for _, t := range types {
		want[t] = true
	}
	var objs []map[string]any
	for _, f := range files {
		obj := schemaReadObject(b, f)
		if len(want) == 0 || want[obj["type"].(string)] {
			objs = append(objs, obj)
		}
	}
	return objs
}

// schemaRunCheckBench checks objs b.N times. objects/s is wall-clock throughput on
// one goroutine; objects/cpu-s divides by the CPU time the process used
// (including GC), which stays meaningful on a machine shared with other work.
func schemaRunCheckBench(b *testing.B, s *schemaSet, objs []map[string]any) {
	b.Helper()
	b.ReportAllocs()
	cpu0, cpuOK := schemaProcessCPU()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		for _, obj := range objs {
			s.check(obj["type"].(string), obj)
			n++
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "objects/s")
	if cpu1, ok := schemaProcessCPU(); ok && cpuOK && cpu1 > cpu0 {
		b.ReportMetric(float64(n)/(cpu1-cpu0).Seconds(), "objects/cpu-s")
	}
}

// schemaProcessCPU returns the user+system CPU time of this process from
// /proc/self/stat (Linux; clock ticks of 1/100 s), ok false elsewhere.
func schemaProcessCPU() (time.Duration, bool) {
	raw, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	// Fields after the parenthesised command: state is field 3, utime 14,
	// stime 15.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, true
}

// BenchmarkSchemaCheck measures check over decoded objects: every valid test
// object, the typical ones (indicator, attack-pattern, relationship), and the
// objects of the bundles named by TAXIID_STIX_CORPUS when it is set.
func BenchmarkSchemaCheck(b *testing.B) {
	s, err := loadSchemas("")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("valid", func(b *testing.B) {
		schemaRunCheckBench(b, s, schemaBenchObjects(b))
	})
	b.Run("typical", func(b *testing.B) {
		schemaRunCheckBench(b, s, schemaBenchObjects(b, "indicator", "attack-pattern", "relationship"))
	})
	b.Run("corpus", func(b *testing.B) {
		var objs []map[string]any
		for _, raw := range corpusObjects(b) {
			var obj map[string]any
			if err := json.Unmarshal(raw, &obj); err != nil {
				b.Fatal(err)
			}
			objs = append(objs, obj)
		}
		findings := 0
		for _, obj := range objs {
			typ, _ := obj["type"].(string)
			f, _, _ := s.check(typ, obj)
			findings += len(f)
		}
		schemaRunCheckBench(b, s, objs)
		b.ReportMetric(float64(findings), "findings")
	})
}
