package taxii

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// GrantStore is what GET /admin/visibility reads of the store of
// principals and grants (authz.Store has it).
type GrantStore interface {
	Organization(ctx context.Context, id string) (authz.Organization, error)
	Grants(ctx context.Context, f authz.GrantFilter) ([]authz.Grant, error)
}

// maxExplainedVersions bounds the versions /admin/visibility explains per
// collection; past it the answer says it was cut.
const maxExplainedVersions = 1000

// Decisions of /admin/visibility: what decided whether a version is seen.
const (
	decidedNoGrant = "no_grant"          // neither the organization nor the public may read the collection
	decidedTLP     = "tlp_above_ceiling" // the version's TLP is above the grant's ceiling
	decidedEmbargo = "embargo"           // the version is still under the grant's embargo
	decidedGranted = "granted"           // visible
)

// visibilityResource answers GET /admin/visibility.
type visibilityResource struct {
	Organization visibilityOrganization `json:"organization"`
	Object       string                 `json:"object"`
	// Collections are those holding a version of the object, in the API
	// roots asked about.
	Collections []collectionVisibility `json:"collections"`
}

type visibilityOrganization struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type collectionVisibility struct {
	APIRoot    string `json:"api_root"`
	Collection string `json:"collection"`
	// Grant is the grant whose conditions apply to the organization's
	// members: "organization", "public" or "none".
	Grant      string                `json:"grant"`
	Conditions *authz.ConditionsView `json:"conditions,omitempty"`
	Versions   []versionVisibility   `json:"versions"`
	// Truncated: the object has more versions than were explained.
	Truncated bool `json:"truncated,omitempty"`
}

type versionVisibility struct {
	Version     string `json:"version"`
	DateAdded   string `json:"date_added"`
	SpecVersion string `json:"spec_version"`
	TLP         string `json:"tlp,omitempty"`
	Visible     bool   `json:"visible"`
	DecidedBy   string `json:"decided_by"`
	// EmbargoUntil is when an embargoed version becomes visible.
	EmbargoUntil string `json:"embargo_until,omitempty"`
	// What the served copy of a visible version leaves out or replaces:
	// the selectors of the granular markings above the ceiling, the
	// source_name of the external references removed, and whether
	// created_by_ref is "replaced" by the hub's identity or "removed".
	RemovedProperties []string `json:"removed_properties,omitempty"`
	RemovedSources    []string `json:"removed_sources,omitempty"`
	CreatedByRef      string   `json:"created_by_ref,omitempty"`
}

// visibility explains, for one organization and one object, version by
// version, whether the organization's members see it and which condition
// decided. It follows the grants to the organization, else to the public:
// a grant to one of its users gives that user other conditions, which
// this answer does not show.
func (s *Server) visibility(c *echo.Context, ctx context.Context) error {
	p, _ := authz.FromContext(ctx)
	if p.Anonymous() {
		return fmt.Errorf("%w: credentials are required", authz.ErrUnauthenticated)
	}
	if !p.IsAdmin() {
		return fmt.Errorf("%w: only admins may do this", authz.ErrForbidden)
	}
	q := c.QueryParams()
	for k, vs := range q {
		switch k {
		case "organization", "object", "api_root", "collection":
		default:
			return badField(clip(k), "unknown query parameter")
		}
		if len(vs) > 1 {
			return badField(k, "given more than once")
		}
	}
	orgID, objID, rootPath, collName := q.Get("organization"), q.Get("object"), q.Get("api_root"), q.Get("collection")
	if orgID == "" {
		return badField("organization", "required: the organization's id")
	}
	typ, u, ok := strings.Cut(objID, "--")
	if !ok || typ == "" || !stix.IsUUID(u) {
		return badField("object", "required: a STIX id such as indicator--<uuid>")
	}
	if collName != "" && rootPath == "" {
		return badField("api_root", "required with collection")
	}
	org, err := s.grants.Organization(ctx, orgID)
	if err != nil {
		return err
	}
	cols, err := s.explainedCollections(ctx, rootPath, collName)
	if err != nil {
		return err
	}
	res := visibilityResource{
		Organization: visibilityOrganization{ID: org.ID, Name: org.Name},
		Object:       objID,
		Collections:  []collectionVisibility{},
	}
	now := time.Now()
	for _, col := range cols {
		cv, err := s.explainCollection(ctx, org.ID, objID, col, now)
		if err != nil {
			return err
		}
		if len(cv.Versions) > 0 {
			res.Collections = append(res.Collections, cv)
		}
	}
	return writeAdminJSON(c, http.StatusOK, res)
}

// explainedCollections returns the collections /admin/visibility looks
// in: the one named, those of the API root named, or every one.
func (s *Server) explainedCollections(ctx context.Context, rootPath, collName string) ([]collections.Collection, error) {
	var roots []string
	if rootPath != "" {
		roots = []string{rootPath}
	} else {
		all, err := s.store.APIRoots(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range all {
			roots = append(roots, r.Path)
		}
	}
	var out []collections.Collection
	for _, r := range roots {
		cols, err := s.store.Collections(ctx, r)
		if errors.Is(err, collections.ErrNotFound) {
			return nil, &authz.InvalidError{Field: "api_root", Reason: fmt.Sprintf("no API root %q", clip(r))}
		}
		if err != nil {
			return nil, err
		}
		for _, col := range cols {
			if collName == "" || col.ID == collName || (col.Alias != "" && col.Alias == collName) {
				out = append(out, col)
			}
		}
	}
	if collName != "" && len(out) == 0 {
		return nil, badField("collection", "no collection %q in API root %q", clip(collName), clip(rootPath))
	}
	return out, nil
}

// organizationConditions returns the conditions the organization's
// members read the collection under, and which grant gives them: the
// grant to the organization, else the public grant.
func (s *Server) organizationConditions(ctx context.Context, orgID string, col collections.Collection) (authz.Conditions, string, error) {
	for _, sub := range []authz.Subject{authz.OrganizationSubject(orgID), authz.Public} {
		gs, err := s.grants.Grants(ctx, authz.GrantFilter{
			Subject: &sub, APIRoot: col.APIRoot, Collection: col.ID, Action: authz.ActionRead, Limit: 1,
		})
		if err != nil {
			return authz.Conditions{}, "", err
		}
		if len(gs) > 0 {
			return gs[0].Conditions, string(sub.Kind), nil
		}
	}
	return authz.Conditions{}, "none", nil
}

// explainCollection explains the versions of the object in one collection.
func (s *Server) explainCollection(ctx context.Context, orgID, objID string, col collections.Collection, now time.Time) (collectionVisibility, error) {
	cv := collectionVisibility{APIRoot: col.APIRoot, Collection: col.ID, Versions: []versionVisibility{}}
	cond, grant, err := s.organizationConditions(ctx, orgID, col)
	if err != nil {
		return cv, err
	}
	cv.Grant = grant
	if grant != "none" {
		cv.Conditions = viewConditions(cond)
	}
	sh := sharing{Conditions: cond, hub: s.hub}
	// Every stored version, whatever its TLP and age: the question is who
	// sees which.
	q := collections.Query{
		APIRoot: col.APIRoot, Collection: col.ID, IDs: []string{objID},
		Versions: collections.VersionFilter{All: true}, AllSpecVersions: true,
		Limit: 100, MaxBytes: s.maxPageBytes,
	}
	for {
		p, err := s.store.Objects(ctx, q)
		if err != nil {
			return cv, err
		}
		for _, o := range p.Objects {
			if len(cv.Versions) == maxExplainedVersions {
				cv.Truncated = true
				return cv, nil
			}
			v, err := explainVersion(o, grant != "none", sh, now)
			if err != nil {
				return cv, err
			}
			cv.Versions = append(cv.Versions, v)
		}
		if !p.More || len(p.Objects) == 0 {
			return cv, nil
		}
		q.AddedAfter = p.Objects[len(p.Objects)-1].DateAdded
	}
}

// explainVersion decides one version the way the read endpoints do: the
// store's TLP ceiling first, then the embargo; a visible version's served
// copy is computed to tell what it leaves out.
func explainVersion(o collections.Object, granted bool, sh sharing, now time.Time) (versionVisibility, error) {
	v := versionVisibility{
		Version: stix.FormatTimestamp(o.Version), DateAdded: taxiiTime(o.DateAdded),
		SpecVersion: o.SpecVersion, TLP: o.TLP.String(),
	}
	switch {
	case !granted:
		v.DecidedBy = decidedNoGrant
	case sh.MaxTLP != stix.TLPNone && o.TLP > sh.MaxTLP:
		v.DecidedBy = decidedTLP
	case sh.Embargo > 0 && o.DateAdded.After(now.Add(-sh.Embargo)):
		v.DecidedBy = decidedEmbargo
		v.EmbargoUntil = taxiiTime(o.DateAdded.Add(sh.Embargo))
	default:
		v.Visible, v.DecidedBy = true, decidedGranted
		if sh.transforms(o) {
			_, ch, err := servedCopy(o.Raw, sh)
			if err != nil {
				return v, fmt.Errorf("served copy of %s: %w", o.ID, err)
			}
			v.RemovedProperties, v.RemovedSources, v.CreatedByRef = ch.Selectors, ch.Sources, ch.Creator
		}
	}
	return v, nil
}

// viewConditions shows conditions as the grants of the admin API do.
func viewConditions(c authz.Conditions) *authz.ConditionsView {
	v := &authz.ConditionsView{MaxTLP: c.MaxTLP, EmbargoSeconds: int64(c.Embargo / time.Second),
		HideCreator: c.HideCreator, HideSources: c.HideSources}
	if v.HideSources == nil {
		v.HideSources = []string{}
	}
	return v
}
