package taxii

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// BenchmarkServe measures what the served copy adds to a page of 100
// objects: nothing for a reader without conditions or objects no
// condition touches, a cache lookup per object once copies are cached,
// and the copy itself when every lookup misses.
func BenchmarkServe(b *testing.B) {
	col := collections.Collection{APIRoot: "api1", ID: "91a7b528-80eb-42ed-a74d-c6fbd5a26116"}
	untouched := strings.Replace(report, `"created_by_ref":"identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6",`, "", 1)
	untouched = strings.Replace(untouched, `"external_references"`, `"x_references"`, 1)
	page := func(raw string) []collections.Object {
		objs := make([]collections.Object, 100)
		for i := range objs {
			objs[i] = collections.Object{ID: fmt.Sprintf("report--%08d-6442-4e23-ab12-4e9ae788bba7", i), Version: time.Unix(1, 0),
				DateAdded: time.Unix(int64(i), 0), Raw: []byte(raw), GranularTLP: stix.TLPAmber}
		}
		return objs
	}
	restricted := sharing{Conditions: authz.Conditions{MaxTLP: stix.TLPRed, HideCreator: true, HideSources: []string{"partner-x"}}, hub: hubID}
	for _, bc := range []struct {
		name  string
		raw   string
		sh    sharing
		cache int64
	}{
		{"unrestricted", report, sharing{}, DefaultServedCacheBytes},
		{"restricted/untouched", untouched, restricted, DefaultServedCacheBytes},
		{"restricted/cached", report, restricted, DefaultServedCacheBytes},
		{"restricted/uncached", report, restricted, 1}, // nothing fits: every copy computed
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := &Server{served: newServedCache(bc.cache)}
			objs := page(bc.raw)
			b.ReportAllocs()
			for b.Loop() {
				p := collections.Page{Objects: append([]collections.Object(nil), objs...)}
				if err := s.serve(col, &p, bc.sh); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
