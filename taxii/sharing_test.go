package taxii_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// Marking definitions of the sharing tests, written out here rather than
// taken from package stix so that a wrong id there fails here: TLP 1.0 as
// STIX 2.1 section 7.2.1.4 predefines them, TLP 2.0 as the FIRST extension
// (extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d) publishes
// them, and one marking that is no TLP.
const (
	tlpWhite1     = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
	tlpGreen1     = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
	tlpAmber1     = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
	tlpRed1       = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
	tlpClear2     = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
	tlpGreen2     = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
	tlpAmber2     = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
	tlpStrict2    = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
	tlpRed2       = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
	customMarking = "marking-definition--1f5b8e3a-3b4c-4b5d-8e6f-7a8b9c0d1e2f"

	hubID     = "identity--0b3a4f7c-26f1-4c4f-9d39-5f0f3e0a1b2c"
	creatorID = "identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6"
)

// markingTLP is what the markings endpoint says of each marking above.
var markingTLP = map[string]string{
	tlpWhite1: "clear", tlpGreen1: "green", tlpAmber1: "amber", tlpRed1: "red",
	tlpClear2: "clear", tlpGreen2: "green", tlpAmber2: "amber", tlpStrict2: "amber+strict", tlpRed2: "red",
	customMarking: "",
}

// sobj is one version of a STIX object as the sharing tests push it, with
// what the test knows of it: the level that decides who sees it, and the
// members its granular markings select.
type sobj struct {
	typ, id, modified string
	tlp               stix.TLP // stated from the rules, not computed
	creator           bool     // created_by_ref is set
	desc              bool     // description is set
	labels            []string
	refs              []string // source_name of each external reference
	omr               []string // object_marking_refs
	gms               []gm     // granular_markings
}

// gm is one granular marking: level is its marking's TLP (TLPNone: none).
type gm struct {
	ref       string
	level     stix.TLP
	selectors []string // "member" or "member.[i]"
}

// member is one member of an object's JSON. A list member has elems; a
// member or element whose level is above the reader's ceiling is not
// served, an element whose source the reader's grant hides neither.
type member struct {
	name  string
	val   string
	level stix.TLP
	elems []elem
}

type elem struct {
	val    string
	source string
	level  stix.TLP
}

func (o sobj) key() string { return o.id + " " + o.modified }

func (o sobj) members() []member {
	q := strconv.Quote
	ms := []member{{name: "type", val: q(o.typ)}, {name: "spec_version", val: q("2.1")}, {name: "id", val: q(o.id)}}
	if o.creator {
		ms = append(ms, member{name: "created_by_ref", val: q(creatorID)})
	}
	ms = append(ms,
		member{name: "created", val: q("2020-01-01T00:00:00.000Z")},
		member{name: "modified", val: q(o.modified)},
		member{name: "name", val: q("object " + o.id[len(o.id)-4:])})
	if o.desc {
		ms = append(ms, member{name: "description", val: q("seen by our sensor in the finance network")})
	}
	if o.typ == "indicator" {
		ms = append(ms,
			member{name: "indicator_types", val: `["malicious-activity"]`},
			member{name: "pattern", val: q("[ipv4-addr:value = '198.51.100.7']")},
			member{name: "pattern_type", val: q("stix")},
			member{name: "valid_from", val: q("2020-01-01T00:00:00Z")})
	}
	list := func(name string, es []elem) {
		if len(es) > 0 {
			ms = append(ms, member{name: name, elems: es})
		}
	}
	var es []elem
	for _, l := range o.labels {
		es = append(es, elem{val: q(l)})
	}
	list("labels", es)
	es = nil
	for _, s := range o.refs {
		es = append(es, elem{val: `{"source_name":` + q(s) + `,"url":` + q("https://"+s+".example/r/1") + `}`, source: s})
	}
	list("external_references", es)
	es = nil
	for _, m := range o.omr {
		es = append(es, elem{val: q(m)})
	}
	list("object_marking_refs", es)
	es = nil
	for _, g := range o.gms {
		var sels []string
		for _, s := range g.selectors {
			sels = append(sels, q(s))
		}
		es = append(es, elem{val: `{"marking_ref":` + q(g.ref) + `,"selectors":[` + strings.Join(sels, ",") + `]}`, level: g.level})
	}
	list("granular_markings", es)
	// The members and elements the granular markings select carry their
	// levels.
	for _, g := range o.gms {
		for _, s := range g.selectors {
			name, idx, isElem := strings.Cut(s, ".")
			for i := range ms {
				if ms[i].name != name {
					continue
				}
				if !isElem {
					ms[i].level = max(ms[i].level, g.level)
					continue
				}
				n, _ := strconv.Atoi(strings.Trim(idx, "[]"))
				ms[i].elems[n].level = max(ms[i].elems[n].level, g.level)
			}
		}
	}
	return ms
}

// served is the JSON of o as a reader under c gets it, hub being the hub
// identity: members and elements above its ceiling left out, the creator
// replaced or removed, the hidden sources removed, lists left empty
// removed. Without conditions it is the JSON pushed.
func (o sobj) served(c authz.Conditions, hub string) string {
	above := func(l stix.TLP) bool { return c.MaxTLP != stix.TLPNone && l > c.MaxTLP }
	var out []string
	for _, m := range o.members() {
		if above(m.level) {
			continue
		}
		val := m.val
		if m.name == "created_by_ref" && c.HideCreator {
			if hub == "" {
				continue
			}
			val = strconv.Quote(hub)
		}
		if m.elems != nil {
			var kept []string
			for _, e := range m.elems {
				if !above(e.level) && (e.source == "" || !slices.Contains(c.HideSources, e.source)) {
					kept = append(kept, e.val)
				}
			}
			if len(kept) == 0 {
				continue
			}
			val = "[" + strings.Join(kept, ",") + "]"
		}
		out = append(out, strconv.Quote(m.name)+":"+val)
	}
	return "{" + strings.Join(out, ",") + "}"
}

// visibleTo reports whether a reader under c sees o. The table's
// embargoes are tableEmbargo, which outlasts the test (under it nothing is
// visible), or shorter ones that checkTable waits out.
func (o sobj) visibleTo(c authz.Conditions) bool {
	return c.Embargo < tableEmbargo && (c.MaxTLP == stix.TLPNone || o.tlp <= c.MaxTLP)
}

// The collections of the table: levelsColl holds one version per object,
// of every kind of marking, and takes TLP:GREEN for unmarked objects;
// versionsColl holds objects whose versions have different levels, and
// the default unmarked level (the most restrictive).
const (
	levelsColl   = "5a000000-0000-4000-8000-00000000005a"
	versionsColl = "5b000000-0000-4000-8000-00000000005b"
)

func sid(typ string, n int) string {
	return typ + "--" + "a1000000-0000-4000-8000-" + strconv.Itoa(100000000000+n)
}

const (
	v2020 = "2020-01-01T00:00:00.000Z"
	v2021 = "2021-01-01T00:00:00.000Z"
	v2022 = "2022-01-01T00:00:00.000Z"
)

// levelObjects are the objects of levelsColl, in push order.
var levelObjects = []sobj{
	{typ: "indicator", id: sid("indicator", 1), modified: v2020, tlp: stix.TLPClear, creator: true,
		refs: []string{"vendor", "partner-x"}, omr: []string{tlpWhite1}},
	{typ: "campaign", id: sid("campaign", 2), modified: v2020, tlp: stix.TLPGreen, creator: true,
		refs: []string{"partner-x"}, omr: []string{tlpGreen2}},
	{typ: "indicator", id: sid("indicator", 3), modified: v2020, tlp: stix.TLPAmber, creator: true, omr: []string{tlpAmber1}},
	{typ: "campaign", id: sid("campaign", 4), modified: v2020, tlp: stix.TLPAmberStrict, creator: true, omr: []string{tlpStrict2}},
	{typ: "indicator", id: sid("indicator", 5), modified: v2020, tlp: stix.TLPRed, creator: true, refs: []string{"vendor"}, omr: []string{tlpRed1}},
	// No marking: the collection's level for unmarked objects.
	{typ: "indicator", id: sid("indicator", 6), modified: v2020, tlp: stix.TLPGreen, creator: true},
	// A marking that is no TLP: unmarked as far as TLP goes.
	{typ: "campaign", id: sid("campaign", 7), modified: v2020, tlp: stix.TLPGreen, omr: []string{customMarking}},
	// Several markings: the highest TLP decides.
	{typ: "indicator", id: sid("indicator", 8), modified: v2020, tlp: stix.TLPAmber, creator: true,
		omr: []string{tlpGreen1, tlpAmber2, customMarking}},
	// Granular markings on optional properties: a reader below them gets
	// a copy without them; the CLEAR one stays.
	{typ: "indicator", id: sid("indicator", 9), modified: v2020, tlp: stix.TLPGreen, creator: true, desc: true,
		labels: []string{"c2", "finance"}, refs: []string{"vendor", "partner-x"}, omr: []string{tlpGreen2},
		gms: []gm{{ref: tlpAmber1, level: stix.TLPAmber, selectors: []string{"description", "labels.[1]"}},
			{ref: tlpClear2, level: stix.TLPClear, selectors: []string{"name"}}}},
	// A granular marking on a required property: the object is withheld
	// below it.
	{typ: "indicator", id: sid("indicator", 10), modified: v2020, tlp: stix.TLPRed, creator: true, desc: true,
		omr: []string{tlpGreen1}, gms: []gm{{ref: tlpRed2, level: stix.TLPRed, selectors: []string{"pattern"}}}},
	{typ: "campaign", id: sid("campaign", 11), modified: v2020, tlp: stix.TLPAmber, desc: true,
		omr: []string{tlpClear2}, gms: []gm{{ref: tlpAmber2, level: stix.TLPAmber, selectors: []string{"name", "description"}}}},
}

// versionObjects are the versions of versionsColl, in push order. Under a
// ceiling a version above it does not exist: the latest, first and every
// other selection are made among the versions the reader sees.
var versionObjects = []sobj{
	// GREEN, then AMBER, then RED: an AMBER reader's latest is 2021.
	{typ: "indicator", id: sid("indicator", 21), modified: v2020, tlp: stix.TLPGreen, creator: true, omr: []string{tlpGreen2}},
	{typ: "indicator", id: sid("indicator", 21), modified: v2021, tlp: stix.TLPAmber, creator: true, omr: []string{tlpAmber2}},
	{typ: "indicator", id: sid("indicator", 21), modified: v2022, tlp: stix.TLPRed, creator: true, omr: []string{tlpRed2}},
	// RED, then GREEN: a GREEN reader's first is 2021.
	{typ: "campaign", id: sid("campaign", 22), modified: v2020, tlp: stix.TLPRed, omr: []string{tlpRed1}},
	{typ: "campaign", id: sid("campaign", 22), modified: v2021, tlp: stix.TLPGreen, refs: []string{"partner-x"}, omr: []string{tlpGreen1}},
	// AMBER, then GREEN with an AMBER description.
	{typ: "indicator", id: sid("indicator", 23), modified: v2020, tlp: stix.TLPAmber, desc: true, omr: []string{tlpAmber1}},
	{typ: "indicator", id: sid("indicator", 23), modified: v2021, tlp: stix.TLPGreen, desc: true, omr: []string{tlpGreen1},
		gms: []gm{{ref: tlpAmber1, level: stix.TLPAmber, selectors: []string{"description"}}}},
	// Unmarked, pushed again marked CLEAR.
	{typ: "campaign", id: sid("campaign", 24), modified: v2020, tlp: stix.TLPRed, creator: true},
	{typ: "campaign", id: sid("campaign", 24), modified: v2021, tlp: stix.TLPClear, creator: true, omr: []string{tlpWhite1}},
}

// tableReader is one row of the table: a user and the conditions its
// grants give it.
type tableReader struct {
	name string
	user string
	cond authz.Conditions
	// grant is the subject given cond on the table's collections: "org"
	// (the user's own organization), "user", or "" (none: the user is an
	// admin, or reads under the public grant).
	grant string
	org   string
}

const tableEmbargo = time.Hour

var tableReaders = []tableReader{
	{name: "admin", user: "root"},
	{name: "no conditions", user: "open-member", org: "open", grant: "org"},
	{name: "ceiling red", user: "red-member", org: "red", grant: "org", cond: authz.Conditions{MaxTLP: stix.TLPRed}},
	{name: "ceiling amber+strict, a source hidden", user: "strict-member", org: "strict", grant: "org",
		cond: authz.Conditions{MaxTLP: stix.TLPAmberStrict, HideSources: []string{"vendor"}}},
	{name: "ceiling amber", user: "amber-member", org: "amber", grant: "org", cond: authz.Conditions{MaxTLP: stix.TLPAmber}},
	{name: "ceiling green", user: "green-member", org: "green", grant: "org", cond: authz.Conditions{MaxTLP: stix.TLPGreen}},
	{name: "ceiling clear", user: "clear-member", org: "clear", grant: "org", cond: authz.Conditions{MaxTLP: stix.TLPClear}},
	{name: "source protection", user: "anon-member", org: "anon", grant: "org",
		cond: authz.Conditions{HideCreator: true, HideSources: []string{"partner-x"}}},
	{name: "ceiling green, source protection", user: "gp-member", org: "gp", grant: "org",
		cond: authz.Conditions{MaxTLP: stix.TLPGreen, HideCreator: true, HideSources: []string{"partner-x", "vendor"}}},
	{name: "embargo", user: "late-member", org: "late", grant: "org", cond: authz.Conditions{Embargo: tableEmbargo}},
	{name: "ceiling amber, embargo, creator hidden", user: "al-member", org: "al", grant: "org",
		cond: authz.Conditions{MaxTLP: stix.TLPAmber, Embargo: tableEmbargo, HideCreator: true}},
	// Once the embargo is over, the other conditions decide.
	{name: "ceiling amber, embargo over, creator hidden", user: "ao-member", org: "ao", grant: "org",
		cond: authz.Conditions{MaxTLP: stix.TLPAmber, Embargo: time.Second, HideCreator: true}},
	// A grant to the user decides over its organization's.
	{name: "user grant over its organization's", user: "amber-lead", org: "amber", grant: "user",
		cond: authz.Conditions{MaxTLP: stix.TLPRed, HideSources: []string{"vendor"}}},
	// Without a grant of its own a user reads under the public grant.
	{name: "public grant", user: "carl", cond: authz.Conditions{MaxTLP: stix.TLPClear, HideCreator: true}},
}

// sharingHub is a hub whose readers of the table hold their grants.
type sharingHub struct{ *hub }

// newSharingHub starts a hub (hub identity hub, "" for none) with the
// collections of the table, and the table's users with their grants on
// them, set through the admin API.
func newSharingHub(t *testing.T, hub string, readers []tableReader, colls ...collections.Collection) *sharingHub {
	t.Helper()
	ctx := context.Background()
	h := &sharingHub{newHub(t, hubOptions{hubIdentity: hub})}
	for _, c := range colls {
		c.APIRoot = "api1"
		must(t, h.store.PutCollection(ctx, c))
	}
	for _, r := range readers {
		if _, ok := h.orgs[r.org]; r.org != "" && !ok {
			o, err := h.store.CreateOrganization(ctx, authz.Organization{Name: r.org})
			must(t, err)
			h.orgs[r.org] = o
		}
		if _, ok := h.users[r.user]; !ok {
			u, err := h.store.CreateUser(ctx, authz.User{Name: r.user, OrganizationID: h.orgs[r.org].ID, Role: authz.RoleMember})
			must(t, err)
			h.users[r.user] = u
			h.tokens[r.user] = h.newToken(t, r.user, "reader", time.Time{})
		}
	}
	h.refresh(t)
	grant := func(sub authz.SubjectInput, coll string, c authz.Conditions) {
		t.Helper()
		in := authz.ConditionsInput{EmbargoSeconds: int64(c.Embargo / time.Second), HideCreator: c.HideCreator, HideSources: c.HideSources}
		if c.MaxTLP != stix.TLPNone {
			in.MaxTLP = c.MaxTLP.String()
		}
		body := must1(json.Marshal(authz.GrantInput{Subject: &sub, APIRoot: ptrTo("api1"), Collection: ptrTo(coll),
			Action: ptrTo(authz.ActionRead), Conditions: &in}))
		if r := h.adminRequest("POST", "/admin/grants", as("root"), body); r.status != http.StatusCreated {
			t.Fatalf("grant %+v on %s = %d\n%s", sub, coll, r.status, r.raw)
		}
	}
	for _, c := range colls {
		for _, r := range readers {
			switch {
			case r.grant == "org":
				grant(authz.SubjectInput{Kind: authz.SubjectOrganization, ID: h.orgs[r.org].ID}, c.ID, r.cond)
			case r.grant == "user":
				grant(authz.SubjectInput{Kind: authz.SubjectUser, ID: h.users[r.user].ID}, c.ID, r.cond)
			case r.user != "root": // reads under the public grant
				grant(authz.SubjectInput{Kind: authz.SubjectPublic}, c.ID, r.cond)
			}
		}
	}
	return h
}

// pushAll pushes objs to coll as the admin, one envelope per object in
// order, and returns the date_added of each version as the admin's
// manifest has it.
func (h *sharingHub) pushAll(t *testing.T, coll string, objs []sobj) map[string]string {
	t.Helper()
	for _, o := range objs {
		h.pushObjects(t, "root", coll, o.served(authz.Conditions{}, ""))
	}
	added := map[string]string{}
	for _, line := range h.items(t, "root", "/api1/collections/"+coll+"/manifest/?match[version]=all&limit=1000") {
		f := strings.Fields(line)
		added[f[0]+" "+f[1]] = f[2]
	}
	if len(added) != len(objs) {
		t.Fatalf("the admin's manifest has %d versions; %d pushed", len(added), len(objs))
	}
	return added
}

// pushObjects pushes raw objects to coll as user and checks they are all
// stored.
func (h *sharingHub) pushObjects(t *testing.T, user, coll string, raws ...string) {
	t.Helper()
	r := h.do("POST", "/api1/collections/"+coll+"/objects/", h.headers(user), []byte(`{"objects":[`+strings.Join(raws, ",")+`]}`))
	if r.status != http.StatusAccepted || r.body["status"] != "complete" || r.body["success_count"] != float64(len(raws)) {
		t.Fatalf("push as %s = %d\n%s", user, r.status, r.raw)
	}
}

// headers are the request headers of user, who presents its token.
func (h *sharingHub) headers(user string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + h.tokens[user]}
}

// seenPage is one page of an endpoint as a reader gets it: its items (the
// bytes of each object, "id version date_added" of each manifest record,
// each version), more, whether it has a next token, and the date_added
// headers.
type seenPage struct {
	Status      int
	Items       []string
	More, Next  bool
	First, Last string
}

// walk reads every page of path (with a query, or ending in "/") as user,
// limit at a time, following next.
func (h *sharingHub) walk(t *testing.T, user, path string, limit int) []seenPage {
	t.Helper()
	var pages []seenPage
	next := ""
	for len(pages) < 100 {
		p := path + "&limit=" + strconv.Itoa(limit)
		if !strings.Contains(path, "?") {
			p = path + "?limit=" + strconv.Itoa(limit)
		}
		if next != "" {
			p += "&next=" + url.QueryEscape(next)
		}
		pg, n := h.page(t, user, p)
		pages = append(pages, pg)
		if n == "" {
			return pages
		}
		next = n
	}
	t.Fatalf("%s: more than 100 pages", path)
	return nil
}

// items reads every item of path as user, on one page.
func (h *sharingHub) items(t *testing.T, user, path string) []string {
	t.Helper()
	pg, next := h.page(t, user, path)
	if pg.Status != http.StatusOK || next != "" {
		t.Fatalf("GET %s = %d, next %q", path, pg.Status, next)
	}
	return pg.Items
}

// page reads one page and returns it with its next token.
func (h *sharingHub) page(t *testing.T, user, path string) (seenPage, string) {
	t.Helper()
	r := h.do("GET", path, h.headers(user), nil)
	pg := seenPage{Status: r.status}
	if r.status != http.StatusOK {
		return pg, ""
	}
	pg.First = addedTime(t, r.header.Get("X-TAXII-Date-Added-First"))
	pg.Last = addedTime(t, r.header.Get("X-TAXII-Date-Added-Last"))
	var body struct {
		More     bool              `json:"more"`
		Next     string            `json:"next"`
		Objects  []json.RawMessage `json:"objects"`
		Versions []string          `json:"versions"`
	}
	must(t, json.Unmarshal(r.raw, &body))
	pg.More, pg.Next = body.More, body.Next != ""
	for _, o := range body.Objects {
		if strings.Contains(path, "/manifest/") {
			var rec map[string]string
			must(t, json.Unmarshal(o, &rec))
			pg.Items = append(pg.Items, rec["id"]+" "+rec["version"]+" "+addedTime(t, rec["date_added"]))
		} else {
			pg.Items = append(pg.Items, string(o))
		}
	}
	pg.Items = append(pg.Items, body.Versions...)
	return pg, body.Next
}

// addedTime reads a TAXII timestamp and writes it in one form, so that
// headers and manifest records compare as strings.
func addedTime(t *testing.T, s string) string {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("timestamp %q: %v", s, err)
	}
	return tm.UTC().Format("2006-01-02T15:04:05.000000Z")
}

// epoch is the date_added headers of an empty page read without
// added_after.
const epoch = "1970-01-01T00:00:00.000000Z"

// wantPages cuts the expected items into pages of limit, with their
// date_added headers; an empty answer is one empty page whose headers
// carry from.
func wantPages(items, added []string, limit int, from string) []seenPage {
	if len(items) == 0 {
		return []seenPage{{Status: http.StatusOK, First: from, Last: from}}
	}
	var pages []seenPage
	for i := 0; i < len(items); i += limit {
		j := min(i+limit, len(items))
		pages = append(pages, seenPage{Status: http.StatusOK, Items: items[i:j], More: j < len(items), Next: j < len(items),
			First: added[i], Last: added[j-1]})
	}
	return pages
}

// selection is a query's filters; pick applies them to the versions a
// reader sees, as if no other version existed.
type selection struct {
	name       string
	versions   string // match[version]: "" (latest), "first", "all", "first,last" or versions
	types, ids []string
	addedAfter string // a version's key: its date_added
	spec       bool   // match[spec_version]=2.1
}

func (s selection) query(added map[string]string) string {
	v := url.Values{}
	if s.versions != "" {
		v.Set("match[version]", s.versions)
	}
	if len(s.types) > 0 {
		v.Set("match[type]", strings.Join(s.types, ","))
	}
	if len(s.ids) > 0 {
		v.Set("match[id]", strings.Join(s.ids, ","))
	}
	if s.addedAfter != "" {
		v.Set("added_after", added[s.addedAfter])
	}
	if s.spec {
		v.Set("match[spec_version]", "2.1")
	}
	return v.Encode()
}

// pick returns the versions of objs (in date_added order) that s selects
// among those visible.
func (s selection) pick(objs []sobj, visible func(sobj) bool, added map[string]string) []sobj {
	first, last := map[string]string{}, map[string]string{}
	for _, o := range objs {
		if !visible(o) {
			continue
		}
		if f, ok := first[o.id]; !ok || o.modified < f {
			first[o.id] = o.modified
		}
		if l, ok := last[o.id]; !ok || o.modified > l {
			last[o.id] = o.modified
		}
	}
	var out []sobj
	for _, o := range objs {
		if !visible(o) {
			continue
		}
		var keep bool
		switch s.versions {
		case "":
			keep = o.modified == last[o.id]
		case "first":
			keep = o.modified == first[o.id]
		case "all":
			keep = true
		case "first,last":
			keep = o.modified == first[o.id] || o.modified == last[o.id]
		default:
			keep = slices.Contains(strings.Split(s.versions, ","), o.modified)
		}
		keep = keep && (len(s.types) == 0 || slices.Contains(s.types, o.typ)) && (len(s.ids) == 0 || slices.Contains(s.ids, o.id))
		if keep && s.addedAfter != "" {
			keep = added[o.key()] > added[s.addedAfter]
		}
		if keep {
			out = append(out, o)
		}
	}
	return out
}

// byDateAdded returns objs ordered by their date_added.
func byDateAdded(objs []sobj, added map[string]string) []sobj {
	out := slices.Clone(objs)
	slices.SortStableFunc(out, func(a, b sobj) int { return strings.Compare(added[a.key()], added[b.key()]) })
	return out
}

// tableCase is a collection of the table: its versions (in push order),
// the selections read from it through the objects and manifest
// endpoints, those read through the object endpoint, and the page size.
type tableCase struct {
	name          string
	coll          collections.Collection
	objs          []sobj
	sels, objSels []selection
	limit         int
}

// runTable pushes the versions of each case, then reads each case's
// collection as each reader through every endpoint, with every
// selection, a page at a time, and compares what it gets with what the
// reader's conditions let it see, in the form they give.
func (h *sharingHub) runTable(t *testing.T, readers []tableReader, hub string, cases ...tableCase) {
	added := map[string]map[string]string{}
	var lastAdded time.Time
	for _, tc := range cases {
		added[tc.coll.ID] = h.pushAll(t, tc.coll.ID, tc.objs)
		for _, a := range added[tc.coll.ID] {
			if at, _ := time.Parse(time.RFC3339Nano, a); at.After(lastAdded) {
				lastAdded = at
			}
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, rd := range readers {
				if rd.cond.Embargo > 0 && rd.cond.Embargo < tableEmbargo {
					time.Sleep(time.Until(lastAdded.Add(rd.cond.Embargo + time.Millisecond)))
				}
				t.Run(rd.name, func(t *testing.T) {
					h.checkReader(t, rd, tc, added[tc.coll.ID], hub)
				})
			}
		})
	}
}

// checkReader reads tc's collection as rd; added is the date_added of
// each version.
func (h *sharingHub) checkReader(t *testing.T, rd tableReader, tc tableCase, added map[string]string, hub string) {
	objs := byDateAdded(tc.objs, added)
	base := "/api1/collections/" + tc.coll.ID
	visible := func(o sobj) bool { return o.visibleTo(rd.cond) }
	expect := func(picked []sobj, kind string) (items, dates []string) {
		for _, o := range picked {
			switch kind {
			case "objects":
				items = append(items, o.served(rd.cond, hub))
			case "manifest":
				items = append(items, o.key()+" "+added[o.key()])
			case "versions":
				items = append(items, o.modified)
			}
			dates = append(dates, added[o.key()])
		}
		return items, dates
	}
	for _, sel := range tc.sels {
		for _, kind := range []string{"objects", "manifest"} {
			t.Run(kind+" "+sel.name, func(t *testing.T) {
				from := epoch
				if sel.addedAfter != "" {
					from = added[sel.addedAfter]
				}
				items, dates := expect(sel.pick(objs, visible, added), kind)
				path := base + "/" + kind + "/?" + sel.query(added)
				got := h.walk(t, rd.user, path, tc.limit)
				if diff := cmp.Diff(wantPages(items, dates, tc.limit, from), got); diff != "" {
					t.Errorf("GET %s as %s, %d at a time (-want +got):\n%s", path, rd.user, tc.limit, diff)
				}
			})
		}
	}
	var ids []string
	for _, o := range objs {
		if !slices.Contains(ids, o.id) {
			ids = append(ids, o.id)
		}
	}
	for _, id := range ids {
		short := id[:strings.Index(id, "--")] + " " + id[len(id)-4:]
		ofID := func(o sobj) bool { return o.id == id && visible(o) }
		for _, sel := range tc.objSels {
			t.Run("object "+short+" "+sel.name, func(t *testing.T) {
				path := base + "/objects/" + id + "/?" + sel.query(added)
				items, dates := expect(sel.pick(objs, ofID, added), "objects")
				want := wantPages(items, dates, 1000, epoch)
				if len(items) == 0 {
					want = []seenPage{{Status: http.StatusNotFound}}
				}
				if diff := cmp.Diff(want, h.walk(t, rd.user, path, 1000)); diff != "" {
					t.Errorf("GET %s as %s (-want +got):\n%s", path, rd.user, diff)
				}
			})
		}
		t.Run("versions "+short, func(t *testing.T) {
			path := base + "/objects/" + id + "/versions/"
			items, dates := expect(selection{versions: "all"}.pick(objs, ofID, added), "versions")
			want := wantPages(items, dates, tc.limit, epoch)
			if len(items) == 0 {
				want = []seenPage{{Status: http.StatusNotFound}}
			}
			if diff := cmp.Diff(want, h.walk(t, rd.user, path, tc.limit)); diff != "" {
				t.Errorf("GET %s as %s (-want +got):\n%s", path, rd.user, diff)
			}
		})
	}
	t.Run("markings", func(t *testing.T) {
		h.checkMarkings(t, rd, tc.coll.ID, objs)
	})
}

// checkMarkings: the markings endpoint lists the markings referenced by
// the versions rd sees, within its ceiling and embargo (granular ones
// included: the reader learns what a served copy left out), and rd's
// ceiling.
func (h *sharingHub) checkMarkings(t *testing.T, rd tableReader, coll string, objs []sobj) {
	t.Helper()
	type record struct {
		ID  string `json:"id"`
		TLP string `json:"tlp,omitempty"`
	}
	type answer struct {
		Markings []record `json:"markings"`
		Ceiling  *string  `json:"ceiling"`
	}
	want := answer{Markings: []record{}}
	if rd.cond.MaxTLP != stix.TLPNone {
		c := rd.cond.MaxTLP.String()
		want.Ceiling = &c
	}
	// Ceiling and embargo alike: a marking referenced only by versions
	// still under rd's embargo is not listed (a reader whose embargo
	// outlasts the test gets none; one whose embargo has passed, those of
	// what its ceiling lets it see).
	seen := map[string]bool{}
	for _, o := range objs {
		if !o.visibleTo(rd.cond) {
			continue
		}
		refs := slices.Clone(o.omr)
		for _, g := range o.gms {
			refs = append(refs, g.ref)
		}
		for _, m := range refs {
			if !seen[m] {
				seen[m] = true
				want.Markings = append(want.Markings, record{ID: m, TLP: markingTLP[m]})
			}
		}
	}
	slices.SortFunc(want.Markings, func(a, b record) int { return strings.Compare(a.ID, b.ID) })
	path := "/api1/collections/" + coll + "/markings/"
	r := h.do("GET", path, h.headers(rd.user), nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s as %s = %d\n%s", path, rd.user, r.status, r.raw)
	}
	var got answer
	must(t, json.Unmarshal(r.raw, &got))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GET %s as %s (-want +got):\n%s", path, rd.user, diff)
	}
}

// TestSharingConditions: readers under every kind of grant conditions
// read, through every read endpoint, with the filters, a few at a time:
// each sees exactly the versions its ceiling and embargo let it see, in
// the form its conditions give (granular-marked properties above its
// ceiling and its hidden sources left out, the creator replaced by the
// hub identity), the same bytes on every endpoint and page, with exact
// more, next and date_added headers. "levels" holds objects marked every
// way; in "versions" the versions of an object have different levels, and
// those above a reader's ceiling do not exist for it: its latest, first
// and every other selection are those of the versions it sees.
func TestSharingConditions(t *testing.T) {
	levels := tableCase{
		name: "levels", coll: collections.Collection{ID: levelsColl, Title: "levels", UnmarkedTLP: stix.TLPGreen},
		objs: levelObjects, limit: 3,
		sels: []selection{
			{name: "latest"},
			{name: "all", versions: "all", spec: true},
			{name: "type", types: []string{"campaign"}},
			{name: "ids", ids: []string{sid("indicator", 1), sid("campaign", 4), sid("indicator", 9), sid("indicator", 10)}},
			{name: "added after", addedAfter: levelObjects[4].key()},
		},
		objSels: []selection{{name: "latest"}, {name: "version", versions: v2020}},
	}
	versions := tableCase{
		name: "versions", coll: collections.Collection{ID: versionsColl, Title: "versions"},
		objs: versionObjects, limit: 2,
		sels: []selection{
			{name: "latest"},
			{name: "first", versions: "first"},
			{name: "first and last", versions: "first,last"},
			{name: "all", versions: "all"},
			{name: "exact", versions: v2021},
			{name: "exact two", versions: v2020 + "," + v2022},
			{name: "type", versions: "all", types: []string{"indicator"}},
			{name: "ids latest", ids: []string{sid("indicator", 21), sid("campaign", 22)}},
			{name: "added after", addedAfter: versionObjects[3].key()},
			{name: "added after, all", versions: "all", addedAfter: versionObjects[3].key()},
		},
		objSels: []selection{
			{name: "latest"}, {name: "first", versions: "first"}, {name: "all", versions: "all"},
			{name: "2020", versions: v2020}, {name: "2021", versions: v2021}, {name: "2022", versions: v2022},
		},
	}
	h := newSharingHub(t, hubID, tableReaders, levels.coll, versions.coll)
	h.runTable(t, tableReaders, hubID, levels, versions)
}

// conditioned lets everyone read and write, and answers ReadConditions
// with cond and ok: the grant a request was let in by can be gone when its
// conditions are asked for, a race a real authorizer does not produce on
// demand.
type conditioned struct {
	allowAll
	cond authz.Conditions
	ok   bool
}

func (a conditioned) ReadConditions(context.Context, string, string) (authz.Conditions, bool) {
	return a.cond, a.ok
}

// TestReadGrantGoneMidRequest: a requester whose read grant is gone when
// its conditions are asked for is refused, not served without them.
func TestReadGrantGoneMidRequest(t *testing.T) {
	e := newEnv(t, options{authorizer: conditioned{ok: false}})
	id := sid("indicator", 1)
	for _, path := range []string{objects, manifest, objects + id + "/", objects + id + "/versions/", "/api1/collections/" + collID + "/markings/"} {
		e.get(path).wantError(t, http.StatusForbidden)
	}
}

// TestMarkingsEndpointAccess: the markings endpoint answers like the
// collection's other endpoints to those who may not read it, and HEAD and
// OPTIONS like theirs. (What it lists is in the tables above.)
func TestMarkingsEndpointAccess(t *testing.T) {
	h := newHub(t, hubOptions{})
	markings := func(coll string) string { return "/api1/collections/" + coll + "/markings/" }
	for _, tt := range []struct {
		name, user, path string
		status           int
	}{
		{"write only", "alice", markings(collAW), http.StatusForbidden},
		{"hidden collection", "bob", markings(collA), http.StatusNotFound},
		{"missing collection", "alice", markings("5f000000-0000-4000-8000-00000000005f"), http.StatusNotFound},
		{"anonymous on a public collection", "", markings(collPublic), http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("GET", tt.path, as(tt.user), nil)
			if tt.status != http.StatusOK {
				r.wantError(t, tt.status)
				return
			}
			if r.status != http.StatusOK || string(r.raw) != `{"markings":[],"ceiling":null}` {
				t.Errorf("= %d %s", r.status, r.raw)
			}
			head := h.do("HEAD", tt.path, as(tt.user), nil)
			if head.status != http.StatusOK || len(head.raw) != 0 {
				t.Errorf("HEAD = %d with %d bytes; want 200 without a body", head.status, len(head.raw))
			}
			opts := h.raw("OPTIONS", tt.path, as(tt.user), nil)
			if opts.status != http.StatusNoContent || opts.header.Get("Allow") == "" {
				t.Errorf("OPTIONS = %d, Allow %q", opts.status, opts.header.Get("Allow"))
			}
		})
	}
}

// TestCreatorRemovedWithoutHubIdentity: without a hub identity, a reader
// whose grant hides the creator gets objects without created_by_ref.
func TestCreatorRemovedWithoutHubIdentity(t *testing.T) {
	readers := []tableReader{
		{name: "admin", user: "root"},
		{name: "source protection", user: "anon-member", org: "anon", grant: "org",
			cond: authz.Conditions{HideCreator: true, HideSources: []string{"partner-x"}}},
	}
	tc := tableCase{name: "levels", coll: collections.Collection{ID: levelsColl, Title: "levels", UnmarkedTLP: stix.TLPGreen},
		objs: levelObjects[:2], sels: []selection{{name: "latest"}}, objSels: []selection{{name: "latest"}}, limit: 3}
	h := newSharingHub(t, "", readers, tc.coll)
	h.runTable(t, readers, "", tc)
}

// green is a campaign marked TLP:GREEN (2.0), n naming it.
func green(n int) sobj {
	return sobj{typ: "campaign", id: sid("campaign", n), modified: v2020, tlp: stix.TLPGreen, omr: []string{tlpGreen2}}
}

// TestEmbargoPoller: under an embargo a version appears once it has been
// in the collection that long, with its real date_added in the headers,
// and a poller that sets added_after from X-TAXII-Date-Added-Last gets
// every version exactly once: a poll while a version is still embargoed
// leaves -Last where the poller was, not at the time of the poll, which
// is past that version's date_added.
func TestEmbargoPoller(t *testing.T) {
	const embargo = time.Second
	readers := []tableReader{{name: "embargo", user: "late-member", org: "late", grant: "org", cond: authz.Conditions{Embargo: embargo}}}
	h := newSharingHub(t, "", readers, collections.Collection{ID: levelsColl, Title: "embargoed"})
	path := "/api1/collections/" + levelsColl + "/objects/"
	// added returns the date_added of each version as the admin reads
	// them, who is not embargoed.
	added := func() map[string]string {
		m := map[string]string{}
		for _, line := range h.items(t, "root", "/api1/collections/"+levelsColl+"/manifest/?match[version]=all&limit=1000") {
			f := strings.Fields(line)
			m[f[0]] = f[2]
		}
		return m
	}
	// poll reads everything after cursor and returns the objects' ids,
	// checking the page's headers, and the cursor -Last gives.
	poll := func(cursor string) ([]string, string) {
		t.Helper()
		p := path
		if cursor != "" {
			p += "?added_after=" + url.QueryEscape(cursor)
		}
		pg, next := h.page(t, "late-member", p)
		if pg.Status != http.StatusOK || next != "" {
			t.Fatalf("GET %s = %d, next %q", p, pg.Status, next)
		}
		dates := added()
		var ids, want []string
		for _, raw := range pg.Items {
			var o struct{ ID string }
			must(t, json.Unmarshal([]byte(raw), &o))
			ids = append(ids, o.ID)
			want = append(want, dates[o.ID])
		}
		from := epoch
		if cursor != "" {
			from = cursor
		}
		first, last := from, from
		if len(want) > 0 {
			first, last = want[0], want[len(want)-1]
		}
		if pg.First != first || pg.Last != last {
			t.Errorf("GET %s: headers first %s, last %s; want %s, %s", p, pg.First, pg.Last, first, last)
		}
		return ids, pg.Last
	}
	// until polls from cursor, moving it as a poller does, until it has
	// received n objects; it returns them and the cursor.
	until := func(cursor string, n int) ([]string, string) {
		t.Helper()
		var got []string
		deadline := time.Now().Add(10 * time.Second)
		for len(got) < n {
			if time.Now().After(deadline) {
				t.Fatalf("after 10s the poller has %v; want %d objects", got, n)
			}
			ids, last := poll(cursor)
			got, cursor = append(got, ids...), last
			if len(got) < n {
				time.Sleep(50 * time.Millisecond)
			}
		}
		return got, cursor
	}

	a, b, c := green(1), green(2), green(3)
	h.pushObjects(t, "root", levelsColl, a.served(authz.Conditions{}, ""))
	pushedA := added()[a.id]
	// Until the embargo ends A does not exist for the reader.
	// (A poll that ends after the embargo may get A already: the poller
	// keeps what it got.)
	got, cursor := poll("")
	if at, _ := time.Parse(time.RFC3339Nano, pushedA); time.Now().Before(at.Add(embargo)) && len(got) > 0 {
		t.Errorf("within the embargo the reader gets %v", got)
	}
	more, cursor := until(cursor, 1-len(got))
	got = append(got, more...)
	if diff := cmp.Diff([]string{a.id}, got); diff != "" {
		t.Errorf("first object (-want +got):\n%s", diff)
	}
	// The cursor is A's real date_added, which is the embargo in the past
	// now that A is seen.
	if at, _ := time.Parse(time.RFC3339Nano, cursor); cursor != pushedA || time.Now().Before(at.Add(embargo)) {
		t.Errorf("cursor %s; want A's date_added %s, at least %v ago", cursor, pushedA, embargo)
	}

	// B is pushed: the poller's clock is past B's date_added, its cursor
	// stays behind it while B is embargoed.
	h.pushObjects(t, "root", levelsColl, b.served(authz.Conditions{}, ""))
	pushedB := added()[b.id]
	got, next := poll(cursor)
	if at, _ := time.Parse(time.RFC3339Nano, pushedB); time.Now().Before(at.Add(embargo)) && (len(got) > 0 || next != cursor) {
		t.Errorf("within B's embargo: %v, -Last %s; want nothing and -Last %s", got, next, cursor)
	}
	h.pushObjects(t, "root", levelsColl, c.served(authz.Conditions{}, ""))
	more, cursor = until(next, 2-len(got))
	got = append(got, more...)
	if diff := cmp.Diff([]string{b.id, c.id}, got); diff != "" {
		t.Errorf("objects after A, each once (-want +got):\n%s", diff)
	}
	if dates := added(); cursor != dates[c.id] {
		t.Errorf("cursor %s; want C's date_added %s", cursor, dates[c.id])
	}
	// Nothing more: the poller keeps its place.
	if ids, last := poll(cursor); len(ids) > 0 || last != cursor {
		t.Errorf("after the last object: %v, -Last %s; want nothing and -Last %s", ids, last, cursor)
	}
}

// TestCeilingPagingWhileWritersPush: a reader whose TLP ceiling hides
// most of a collection pages through it, then polls with added_after from
// X-TAXII-Date-Added-Last, while writers push objects of every level: it
// gets every object it may see exactly once, never one above its
// ceiling, on pages that are full whenever more follow.
func TestCeilingPagingWhileWritersPush(t *testing.T) {
	readers := []tableReader{{name: "green", user: "green-member", org: "green", grant: "org", cond: authz.Conditions{MaxTLP: stix.TLPGreen}}}
	h := newSharingHub(t, "", readers, collections.Collection{ID: levelsColl, Title: "mostly hidden"})
	// One object in five is visible: GREEN or CLEAR; the others are
	// AMBER, RED or unmarked (RED in this collection).
	marks := [][]string{{tlpGreen1}, {tlpAmber2}, {tlpRed1}, nil, {tlpClear2}, {tlpAmber1}, {tlpStrict2}, {tlpRed2}, {customMarking}, {tlpAmber1, tlpRed2}}
	object := func(n int) sobj {
		return sobj{typ: "campaign", id: sid("campaign", n), modified: v2020, omr: marks[n%len(marks)]}
	}
	visible := func(n int) bool { return n%len(marks) == 0 || n%len(marks) == 4 }
	const (
		before  = 40 // pushed before the reader starts
		writers = 2
		pushes  = 8 // per writer
		batch   = 5 // objects per push
		limit   = 3
	)
	var raws []string
	for n := range before {
		raws = append(raws, object(n).served(authz.Conditions{}, ""))
	}
	h.pushObjects(t, "root", levelsColl, raws...)

	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			var err error
			for p := range pushes {
				var raws []string
				for i := range batch {
					raws = append(raws, object(before+(w*pushes+p)*batch+i).served(authz.Conditions{}, ""))
				}
				if err = pushAsync(h.url, h.tokens["root"], levelsColl, raws); err != nil {
					break
				}
			}
			errs <- err
		}()
	}

	want := map[string]bool{}
	for n := range before + writers*pushes*batch {
		if visible(n) {
			want[object(n).id] = true
		}
	}
	seen := map[string]int{}
	var order []string
	path := "/api1/collections/" + levelsColl + "/objects/"
	deadline := time.Now().Add(20 * time.Second)
	// from is the added_after of the walk under way (a next token goes
	// with the filters it was issued for), cursor where the next walk
	// starts: -Last of the latest page.
	from, cursor, next, done := "", "", "", 0
	for {
		if time.Now().After(deadline) {
			t.Fatalf("after 20s the reader has %d of %d objects", len(order), len(want))
		}
		if next == "" {
			from = cursor
		}
		q := url.Values{"limit": {strconv.Itoa(limit)}}
		if from != "" {
			q.Set("added_after", from)
		}
		if next != "" {
			q.Set("next", next)
		}
		// Whether the writers were done before this read: then a read
		// that ends the walk is the last one needed.
	drain:
		for done < writers {
			select {
			case err := <-errs:
				must(t, err)
				done++
			default:
				break drain
			}
		}
		finished := done == writers
		pg, n := h.page(t, "green-member", path+"?"+q.Encode())
		if pg.Status != http.StatusOK {
			t.Fatalf("GET %s = %d", q.Encode(), pg.Status)
		}
		if pg.More && len(pg.Items) != limit {
			t.Errorf("a page of %d objects with more after it; want %d", len(pg.Items), limit)
		}
		for _, raw := range pg.Items {
			var o struct{ ID string }
			must(t, json.Unmarshal([]byte(raw), &o))
			seen[o.ID]++
			order = append(order, o.ID)
			if !want[o.ID] {
				t.Errorf("the reader got %s, above its ceiling", o.ID)
			}
		}
		next, cursor = n, pg.Last
		if next == "" && finished {
			break
		}
		if next == "" && len(pg.Items) == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s received %d times", id, n)
		}
	}
	for id := range want {
		if seen[id] == 0 {
			t.Errorf("%s never received", id)
		}
	}
}

// pushAsync pushes raw objects to coll with a bearer token, for writers
// running beside a test's own requests.
func pushAsync(base, token, coll string, raws []string) error {
	body := `{"objects":[` + strings.Join(raws, ",") + `]}`
	req, err := http.NewRequest("POST", base+"/api1/collections/"+coll+"/objects/", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	req.Header.Set("Content-Type", "application/taxii+json;version=2.1")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var st struct {
		Status       string `json:"status"`
		SuccessCount int    `json:"success_count"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusAccepted || st.Status != "complete" || st.SuccessCount != len(raws) {
		return fmt.Errorf("push = %d, %+v", resp.StatusCode, st)
	}
	return nil
}
