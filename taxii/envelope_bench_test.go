package taxii

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// BenchmarkDecodeEnvelope decodes a 99 MiB envelope of 1 KB objects and
// reports the bytes allocated per body byte (the objects themselves are one
// body's worth) and the peak of the live heap above the body, sampled
// after the decoding, as a multiple of the body.
//
//	go test ./taxii -run '^$' -bench DecodeEnvelope -benchtime 3x
func BenchmarkDecodeEnvelope(b *testing.B) {
	var body bytes.Buffer
	body.WriteString("{\n  \"objects\": [\n")
	for i := 0; body.Len() < 99<<20-2000; i++ {
		if i > 0 {
			body.WriteString(",\n")
		}
		fmt.Fprintf(&body, `    {"type": "indicator", "id": "indicator--%08d-0000-4000-8000-000000000000", "description": "%s"}`, i, strings.Repeat("a", 900))
	}
	body.WriteString("\n  ]\n}\n")
	b.SetBytes(int64(body.Len()))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	var live float64
	for range b.N {
		objs, err := decodeEnvelope(bytes.NewReader(body.Bytes()), DefaultMaxObjects)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		live = max(live, float64(ms.HeapAlloc-before.HeapAlloc)/float64(body.Len()))
		runtime.KeepAlive(objs)
		b.StartTimer()
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(body.Len()), "alloc/body")
	b.ReportMetric(live, "live/body")
}
