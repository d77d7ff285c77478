package taxii_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
	"github.com/taxiid/taxiid/taxii"
)

// conditioned lets everyone read and write, and reads under cond (ok false:
// the requester holds no read grant any more).
type conditioned struct {
	allowAll
	cond authz.Conditions
	ok   bool
}

func (a conditioned) ReadConditions(context.Context, string, string) (authz.Conditions, bool) {
	return a.cond, a.ok
}

// sharingStore stands between the server and the store: it records the
// queries and the markings ceilings the server asks with, and gives the
// versions of the objects named in tlp and granular the levels the
// ingester records at ingest, and answers Markings from markings.
type sharingStore struct {
	collections.Store
	mu       sync.Mutex
	queries  []collections.Query
	ceilings []stix.TLP
	tlp      map[string]stix.TLP // by object id, or id@version
	granular map[string]stix.TLP
	markings []collections.Marking
}

func (s *sharingStore) Objects(ctx context.Context, q collections.Query) (collections.Page, error) {
	s.mu.Lock()
	s.queries = append(s.queries, q)
	s.mu.Unlock()
	p, err := s.Store.Objects(ctx, q)
	for i, o := range p.Objects {
		p.Objects[i].TLP, p.Objects[i].GranularTLP = s.tlp[o.ID], s.granular[o.ID]
		if l, ok := s.tlp[o.ID+"@"+stix.FormatTimestamp(o.Version)]; ok {
			p.Objects[i].TLP = l
		}
	}
	return p, err
}

func (s *sharingStore) Markings(_ context.Context, _, _ string, maxTLP stix.TLP) ([]collections.Marking, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ceilings = append(s.ceilings, maxTLP)
	var out []collections.Marking
	for _, m := range s.markings {
		if maxTLP == stix.TLPNone || m.TLP <= maxTLP {
			out = append(out, m)
		}
	}
	return out, nil
}

func (s *sharingStore) take() []collections.Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queries
	s.queries = nil
	return q
}

const (
	tlpGreen1 = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
	tlpAmber1 = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
	tlpRed2   = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
	hubID     = "identity--0b3a4f7c-26f1-4c4f-9d39-5f0f3e0a1b2c"
	sharedID  = "indicator--6f0c7b0e-1d2c-4b4a-9e55-2f1b7f3f6a01"
)

// shared is an indicator as a partner pushes it: a creator, two sources,
// a TLP:GREEN marking and an AMBER granular marking on two properties.
const shared = `{"type":"indicator","spec_version":"2.1","id":"` + sharedID + `",` +
	`"created_by_ref":"identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z",` +
	`"name":"C2 host","description":"seen by our sensor in the finance network","indicator_types":["malicious-activity"],` +
	`"pattern":"[ipv4-addr:value = '198.51.100.7']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z",` +
	`"labels":["c2","finance"],` +
	`"external_references":[{"source_name":"vendor","url":"https://vendor.example/r/1"},{"source_name":"partner-x","external_id":"PX-7"}],` +
	`"object_marking_refs":["` + tlpGreen1 + `"],` +
	`"granular_markings":[{"marking_ref":"` + tlpAmber1 + `","selectors":["description","labels.[1]"]}]}`

// newSharingEnv starts a server reading under cond over a sharingStore
// holding shared (granular level AMBER).
func newSharingEnv(t *testing.T, cond *authz.Conditions, hub string) (*env, *sharingStore) {
	t.Helper()
	ss := &sharingStore{granular: map[string]stix.TLP{sharedID: stix.TLPAmber}, tlp: map[string]stix.TLP{sharedID: stix.TLPGreen}}
	var az taxii.Authorizer = allowAll{}
	if cond != nil {
		az = conditioned{cond: *cond, ok: true}
	}
	e := newEnv(t, options{
		authorizer: az,
		wrap:       func(s collections.Store) collections.Store { ss.Store = s; return ss },
		config:     func(c *taxii.Config) { c.HubIdentity = hub },
	})
	e.push([]byte(`{"objects":[` + shared + `]}`))
	ss.take()
	return e, ss
}

// servedObjects returns the objects of an envelope as the bytes served.
func servedObjects(t *testing.T, r response) []string {
	t.Helper()
	var env struct{ Objects []json.RawMessage }
	if err := json.Unmarshal(r.raw, &env); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range env.Objects {
		out = append(out, string(o))
	}
	return out
}

// TestServedCopyOverHTTP: a reader gets the copy its grant's conditions
// make, the same from the objects and the object endpoints and on every
// read; a reader without conditions gets the bytes pushed.
func TestServedCopyOverHTTP(t *testing.T) {
	const (
		head = `{"type":"indicator","spec_version":"2.1","id":"` + sharedID + `",`
		meta = `"created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","name":"C2 host",`
		desc = `"description":"seen by our sensor in the finance network",`
		body = `"indicator_types":["malicious-activity"],"pattern":"[ipv4-addr:value = '198.51.100.7']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z",`
		refs = `"external_references":[{"source_name":"vendor","url":"https://vendor.example/r/1"},{"source_name":"partner-x","external_id":"PX-7"}],`
		omr  = `"object_marking_refs":["` + tlpGreen1 + `"]`
		gm   = `,"granular_markings":[{"marking_ref":"` + tlpAmber1 + `","selectors":["description","labels.[1]"]}]}`
	)
	tests := []struct {
		name string
		cond *authz.Conditions
		hub  string
		want string
	}{
		{name: "no conditions", want: shared},
		{name: "ceiling at the granular level", cond: &authz.Conditions{MaxTLP: stix.TLPAmber}, want: shared},
		{
			name: "creator replaced by the hub identity", cond: &authz.Conditions{HideCreator: true}, hub: hubID,
			want: head + `"created_by_ref":"` + hubID + `",` + meta + desc + body + `"labels":["c2","finance"],` + refs + omr + gm,
		},
		{
			name: "creator removed, a source hidden", cond: &authz.Conditions{HideCreator: true, HideSources: []string{"partner-x"}},
			want: head + meta + desc + body + `"labels":["c2","finance"],` +
				`"external_references":[{"source_name":"vendor","url":"https://vendor.example/r/1"}],` + omr + gm,
		},
		{
			name: "granular marking above the ceiling", cond: &authz.Conditions{MaxTLP: stix.TLPGreen},
			want: head + `"created_by_ref":"identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6",` + meta + body + `"labels":["c2"],` + refs + omr + `}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newSharingEnv(t, tt.cond, tt.hub)
			for _, path := range []string{objects, objects, objects + sharedID + "/", objects + sharedID + "/?match[version]=all"} {
				r := e.get(path)
				if r.status != http.StatusOK {
					t.Fatalf("GET %s = %d\n%s", path, r.status, r.raw)
				}
				if diff := cmp.Diff([]string{tt.want}, servedObjects(t, r)); diff != "" {
					t.Errorf("GET %s (-want +got):\n%s", path, diff)
				}
			}
		})
	}
}

// TestConditionsBoundEveryRead: every query of the objects, object,
// manifest and versions endpoints, the one that decides between an empty
// page and a 404 included, carries the requester's TLP ceiling and
// embargo bound; a requester without conditions queries without them. The
// stores answer both (their own tests prove it); this proves the server
// asks.
func TestConditionsBoundEveryRead(t *testing.T) {
	const embargo = 6 * time.Hour
	// status is the answer without conditions; under the embargo the
	// object, pushed just now, does not exist for the requester yet.
	paths := []struct {
		path              string
		status, embargoed int
	}{
		{objects, 200, 200},
		{objects + "?added_after=2000-01-01T00:00:00Z&limit=1", 200, 200},
		{objects + sharedID + "/", 200, 404},
		{objects + sharedID + "/?match[version]=2001-01-01T00:00:00Z", 404, 404}, // requireMatch asks twice more
		{manifest, 200, 200},
		{objects + sharedID + "/versions/", 200, 404},
	}
	for _, tt := range []struct {
		name    string
		cond    *authz.Conditions
		ceiling stix.TLP
	}{
		{"conditioned", &authz.Conditions{MaxTLP: stix.TLPAmber, Embargo: embargo}, stix.TLPAmber},
		{"unconditioned", nil, stix.TLPNone},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, ss := newSharingEnv(t, tt.cond, "")
			for _, p := range paths {
				before := time.Now()
				r := e.get(p.path)
				after := time.Now()
				want := p.status
				if tt.cond != nil {
					want = p.embargoed
				}
				if r.status != want {
					t.Fatalf("GET %s = %d; want %d\n%s", p.path, r.status, want, r.raw)
				}
				qs := ss.take()
				if len(qs) == 0 {
					t.Fatalf("GET %s: no query", p.path)
				}
				for _, q := range qs {
					if q.MaxTLP != tt.ceiling {
						t.Errorf("GET %s: query with MaxTLP %v; want %v", p.path, q.MaxTLP, tt.ceiling)
					}
					if tt.cond == nil {
						if !q.AddedUntil.IsZero() {
							t.Errorf("GET %s: query with AddedUntil %v; want none", p.path, q.AddedUntil)
						}
					} else if q.AddedUntil.Before(before.Add(-embargo)) || q.AddedUntil.After(after.Add(-embargo)) {
						t.Errorf("GET %s: query with AddedUntil %v; want the request's time less %v", p.path, q.AddedUntil, embargo)
					}
				}
			}
		})
	}
}

// TestReadGrantGoneMidRequest: a requester whose read grant is gone when
// its conditions are asked for is refused, not served without them.
func TestReadGrantGoneMidRequest(t *testing.T) {
	e := newEnv(t, options{authorizer: conditioned{ok: false}})
	for _, path := range []string{objects, manifest, objects + sharedID + "/", objects + sharedID + "/versions/", "/api1/collections/" + collID + "/markings/"} {
		e.get(path).wantError(t, http.StatusForbidden)
	}
}

// TestMarkingsEndpoint: the markings a requester may see in a collection,
// with its ceiling; the endpoint answers like the collection's others to
// those who may not read it.
func TestMarkingsEndpoint(t *testing.T) {
	const markingsPath = "/api1/collections/" + collID + "/markings/"
	custom := "marking-definition--1f5b8e3a-3b4c-4b5d-8e6f-7a8b9c0d1e2f"
	stored := []collections.Marking{
		{ID: tlpRed2, TLP: stix.TLPRed}, {ID: tlpGreen1, TLP: stix.TLPGreen}, {ID: custom}, {ID: tlpAmber1, TLP: stix.TLPAmber},
	}
	tests := []struct {
		name        string
		az          taxii.Authorizer
		path        string
		status      int
		want        string
		wantCeiling []stix.TLP
	}{
		{
			name: "ceiling amber", az: conditioned{cond: authz.Conditions{MaxTLP: stix.TLPAmber}, ok: true}, path: markingsPath, status: 200,
			want:        `{"markings":[{"id":"` + tlpGreen1 + `","tlp":"green"},{"id":"` + custom + `"},{"id":"` + tlpAmber1 + `","tlp":"amber"}],"ceiling":"amber"}`,
			wantCeiling: []stix.TLP{stix.TLPAmber},
		},
		{
			name: "no ceiling", az: allowAll{}, path: "/api1/collections/main/markings/", status: 200,
			want:        `{"markings":[{"id":"` + tlpRed2 + `","tlp":"red"},{"id":"` + tlpGreen1 + `","tlp":"green"},{"id":"` + custom + `"},{"id":"` + tlpAmber1 + `","tlp":"amber"}],"ceiling":null}`,
			wantCeiling: []stix.TLP{stix.TLPNone},
		},
		{
			name: "ceiling clear sees none", az: conditioned{cond: authz.Conditions{MaxTLP: stix.TLPClear}, ok: true}, path: markingsPath, status: 200,
			want: `{"markings":[{"id":"` + custom + `"}],"ceiling":"clear"}`, wantCeiling: []stix.TLP{stix.TLPClear},
		},
		{name: "write only", az: writeOnly{}, path: markingsPath, status: 403},
		{name: "hidden collection", az: readOnly{}, path: "/api1/collections/" + otherID + "/markings/", status: 404},
		{name: "missing collection", az: allowAll{}, path: "/api1/collections/no-such/markings/", status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ss := &sharingStore{markings: stored}
			e := newEnv(t, options{authorizer: tt.az, wrap: func(s collections.Store) collections.Store { ss.Store = s; return ss }})
			r := e.get(tt.path)
			if tt.status != 200 {
				r.wantError(t, tt.status)
				return
			}
			if r.status != 200 {
				t.Fatalf("status = %d\n%s", r.status, r.raw)
			}
			if diff := cmp.Diff(tt.want, string(r.raw)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantCeiling, ss.ceilings); diff != "" {
				t.Errorf("ceilings asked (-want +got):\n%s", diff)
			}
			head := e.do("HEAD", tt.path, nil, nil)
			if head.status != 200 || len(head.raw) != 0 {
				t.Errorf("HEAD = %d with %d bytes; want 200 without a body", head.status, len(head.raw))
			}
			opts := e.raw("OPTIONS", tt.path, nil, nil)
			if opts.status != http.StatusNoContent || opts.header.Get("Allow") == "" {
				t.Errorf("OPTIONS = %d, Allow %q", opts.status, opts.header.Get("Allow"))
			}
		})
	}
}
