package sqlite

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestWatermarksPlan: the watermark of each collection is one seek of an
// index, never a scan of its objects.
func TestWatermarksPlan(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "plans.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	query := fmt.Sprintf(watermarksQuery, "?,?")
	plan := explain(t, ctx, s, query, []any{"a", "b"})
	t.Logf("%s\n%s", query, plan)
	for _, line := range strings.Split(plan, "\n") {
		if strings.Contains(line, "SCAN") || strings.Contains(line, "TEMP B-TREE") {
			t.Errorf("plan step %q; want index searches only", line)
		}
	}
	for _, want := range []string{"USING COVERING INDEX objects_coll (coll=?)", "INDEX collections_id (id=?)"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
}
