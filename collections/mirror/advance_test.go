package mirror

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAdvance: the cursor after each page. Within a walk it stays just
// before the page's last date_added (objects added at that instant may
// continue on the next page, and added_after is exclusive); at the end of
// a walk it is the last date_added reached; it never goes back.
func TestAdvance(t *testing.T) {
	objs := func(n int) []json.RawMessage { return make([]json.RawMessage, n) }
	tests := []struct {
		name      string
		cur       Cursor
		walkAfter string
		pg        page
		want      Cursor
		done      bool
		fails     bool
	}{
		{"first page of a walk", Cursor{}, "",
			page{Objects: objs(2), More: true, Next: "t1", Last: "2026-03-01T10:00:00.123456Z"},
			Cursor{After: "2026-03-01T10:00:00.122456Z", Next: "t1"}, false, false},
		{"a page within a walk", Cursor{After: "2026-03-01T10:00:00.122456Z", Next: "t1", WalkAfter: "2026-02-01T00:00:00Z"}, "2026-02-01T00:00:00Z",
			page{Objects: objs(2), More: true, Next: "t2", Last: "2026-03-01T10:00:05Z"},
			Cursor{After: "2026-03-01T10:00:04.999000Z", Next: "t2", WalkAfter: "2026-02-01T00:00:00Z"}, false, false},
		{"the last page", Cursor{After: "2026-03-01T10:00:04.999000Z", Next: "t2"}, "",
			page{Objects: objs(1), Last: "2026-03-01T10:00:06.5Z"},
			Cursor{After: "2026-03-01T10:00:06.5Z"}, true, false},
		{"an empty last page keeps the cursor", Cursor{After: "2026-03-01T10:00:06.5Z"}, "2026-03-01T10:00:06.5Z",
			page{Last: "2026-03-01T10:00:06.5Z"},
			Cursor{After: "2026-03-01T10:00:06.5Z"}, true, false},
		{"an empty page with an earlier header keeps the cursor", Cursor{After: "2026-03-01T10:00:06.5Z"}, "2026-03-01T10:00:06.5Z",
			page{Last: "1970-01-01T00:00:00Z"},
			Cursor{After: "2026-03-01T10:00:06.5Z"}, true, false},
		{"the overlap never goes back", Cursor{After: "2026-03-01T10:00:06.5Z"}, "2026-03-01T10:00:06.5Z",
			page{Objects: objs(1), More: true, Next: "t3", Last: "2026-03-01T10:00:06.5002Z"},
			Cursor{After: "2026-03-01T10:00:06.5Z", Next: "t3", WalkAfter: "2026-03-01T10:00:06.5Z"}, false, false},
		{"more without next continues after the last", Cursor{After: "2026-03-01T10:00:00Z"}, "2026-03-01T10:00:00Z",
			page{Objects: objs(3), More: true, Last: "2026-03-01T10:00:09Z"},
			Cursor{After: "2026-03-01T10:00:09Z"}, false, false},
		{"more without next that does not advance fails", Cursor{After: "2026-03-01T10:00:09Z"}, "2026-03-01T10:00:09Z",
			page{Objects: objs(3), More: true, Last: "2026-03-01T10:00:09Z"},
			Cursor{}, false, true},
		{"an empty page with more and no next fails", Cursor{}, "",
			page{More: true}, Cursor{}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, done, err := advance(tt.cur, tt.walkAfter, tt.pg)
			if (err != nil) != tt.fails {
				t.Fatalf("error %v, want failure %v", err, tt.fails)
			}
			if tt.fails {
				return
			}
			if done != tt.done {
				t.Errorf("done %v, want %v", done, tt.done)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("cursor (-want +got):\n%s", diff)
			}
		})
	}
}
