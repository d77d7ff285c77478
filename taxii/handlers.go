package taxii

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// taxiiTime formats a TAXII timestamp: UTC with microsecond precision
// (TAXII 2.1 section 2, timestamp).
func taxiiTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// writeJSON writes v as a TAXII response.
func writeJSON(c *echo.Context, status int, v any) error {
	return writeEncoded(c, status, MediaTypeTAXII, v)
}

// writeEncoded writes v encoded as JSON, with the media type given.
func writeEncoded(c *echo.Context, status int, mediaType string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	return c.Blob(status, mediaType, b)
}

// discoveryResource is TAXII 2.1 section 4.1.1.
type discoveryResource struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Contact     string   `json:"contact,omitempty"`
	Default     string   `json:"default,omitempty"`
	APIRoots    []string `json:"api_roots,omitempty"`
}

// discovery lists the API roots in which the requester can reach
// something; the default is named only when it is one of them.
func (s *Server) discovery(c *echo.Context) error {
	ctx := c.Request().Context()
	roots, err := s.store.APIRoots(ctx)
	if err != nil {
		return err
	}
	d := discoveryResource{Title: s.title, Description: s.description, Contact: s.contact}
	for _, r := range roots {
		ok, err := s.reachable(c, r.Path)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		// Relative URLs (section 4.1.1) keep working behind proxies that
		// rewrite the host.
		u := "/" + r.Path + "/"
		d.APIRoots = append(d.APIRoots, u)
		if r.Path == s.defaultRoot || (s.defaultRoot == "" && d.Default == "") {
			d.Default = u
		}
	}
	if len(d.APIRoots) == 0 && s.challenges(c) {
		return s.deny(c, endpointDiscovery, "", "", "nothing public", nil)
	}
	return writeJSON(c, http.StatusOK, d)
}

// reachable reports whether the requester may read or write some
// collection of the API root; admins reach every API root, even one
// without collections.
func (s *Server) reachable(c *echo.Context, root string) (bool, error) {
	if requester(c).IsAdmin() {
		return true, nil
	}
	ctx := c.Request().Context()
	cols, err := s.store.Collections(ctx, root)
	if errors.Is(err, collections.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, col := range cols {
		if s.authz.CanRead(ctx, root, col.ID) || s.authz.CanWrite(ctx, root, col.ID) {
			return true, nil
		}
	}
	return false, nil
}

// apiRootResource is TAXII 2.1 section 4.2.1.
type apiRootResource struct {
	Title            string   `json:"title"`
	Description      string   `json:"description,omitempty"`
	Versions         []string `json:"versions"`
	MaxContentLength int64    `json:"max_content_length"`
}

// findRoot returns the API root named by the :root path parameter,
// whoever asks.
func (s *Server) findRoot(c *echo.Context) (collections.APIRoot, bool, error) {
	roots, err := s.store.APIRoots(c.Request().Context())
	if err != nil {
		return collections.APIRoot{}, false, err
	}
	name := c.Param("root")
	for _, r := range roots {
		if r.Path == name {
			return r, true, nil
		}
	}
	return collections.APIRoot{}, false, nil
}

func errNoAPIRoot(name string) error {
	return errorf(http.StatusNotFound, "no API root %q", clip(name))
}

// lookupRoot returns the API root named by the :root path parameter when
// the requester can reach something in it. One it cannot reach is
// reported as missing, so that its existence does not leak.
func (s *Server) lookupRoot(c *echo.Context, endpoint string) (collections.APIRoot, error) {
	name := c.Param("root")
	r, ok, err := s.findRoot(c)
	if err != nil {
		return collections.APIRoot{}, err
	}
	if !ok {
		return collections.APIRoot{}, s.absent(c, endpoint, name, "", errNoAPIRoot(name))
	}
	ok, err = s.reachable(c, name)
	if err != nil {
		return collections.APIRoot{}, err
	}
	if !ok {
		return collections.APIRoot{}, s.deny(c, endpoint, name, "", "nothing reachable in the API root", errNoAPIRoot(name))
	}
	return r, nil
}

func (s *Server) apiRoot(c *echo.Context) error {
	r, err := s.lookupRoot(c, endpointAPIRoot)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, apiRootResource{
		Title:            r.Title,
		Description:      r.Description,
		Versions:         []string{MediaTypeTAXII},
		MaxContentLength: r.MaxContentLength,
	})
}

// statusResource is TAXII 2.1 section 4.3.1.
type statusResource struct {
	ID               string         `json:"id"`
	Status           string         `json:"status"`
	RequestTimestamp string         `json:"request_timestamp,omitempty"`
	TotalCount       int            `json:"total_count"`
	SuccessCount     int            `json:"success_count"`
	Successes        []statusDetail `json:"successes,omitempty"`
	FailureCount     int            `json:"failure_count"`
	Failures         []statusDetail `json:"failures,omitempty"`
	PendingCount     int            `json:"pending_count"`
	Pendings         []statusDetail `json:"pendings,omitempty"`
}

type statusDetail struct {
	ID      string `json:"id,omitempty"`
	Version string `json:"version,omitempty"`
	Message string `json:"message,omitempty"`
}

func newStatusResource(st collections.Status) statusResource {
	details := func(ds []collections.StatusDetail) []statusDetail {
		if len(ds) == 0 {
			return nil
		}
		out := make([]statusDetail, len(ds))
		for i, d := range ds {
			out[i] = statusDetail(d)
		}
		return out
	}
	return statusResource{
		ID:               st.ID,
		Status:           st.Status,
		RequestTimestamp: taxiiTime(st.RequestTimestamp),
		TotalCount:       st.TotalCount,
		SuccessCount:     len(st.Successes),
		Successes:        details(st.Successes),
		FailureCount:     len(st.Failures),
		Failures:         details(st.Failures),
		PendingCount:     len(st.Pendings),
		Pendings:         details(st.Pendings),
	}
}

// status answers a status resource to the organization whose request
// created it and to admins; to anyone else it does not exist.
func (s *Server) status(c *echo.Context) error {
	r, err := s.lookupRoot(c, endpointStatus)
	if err != nil {
		return err
	}
	id := c.Param("status")
	missing := errorf(http.StatusNotFound, "no status %q in this API root; statuses expire after a day", clip(id))
	st, err := s.store.Status(c.Request().Context(), r.Path, id)
	if errors.Is(err, collections.ErrNotFound) {
		return s.absent(c, endpointStatus, r.Path, "", missing)
	}
	if err != nil {
		return err
	}
	// Without an authenticator nobody is told apart: every requester
	// that reaches the API root sees its statuses.
	if s.authn != nil && !requester(c).CanSeeStatus(st.Owner) {
		return s.deny(c, endpointStatus, r.Path, "", "status of another organization", missing)
	}
	return writeJSON(c, http.StatusOK, newStatusResource(st))
}

// collectionResource is TAXII 2.1 section 5.2.1.
type collectionResource struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Alias       string   `json:"alias,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types,omitempty"`
}

// collections lists the collections the requester may read or write,
// with its own can_read and can_write; the others stay invisible. An API
// root where that leaves nothing answers like a missing one (admins see
// every API root, even an empty one).
func (s *Server) collections(c *echo.Context) error {
	name := c.Param("root")
	r, ok, err := s.findRoot(c)
	if err != nil {
		return err
	}
	if !ok {
		return s.absent(c, endpointCollections, name, "", errNoAPIRoot(name))
	}
	ctx := c.Request().Context()
	cols, err := s.store.Collections(ctx, r.Path)
	if err != nil {
		return err
	}
	var res struct {
		Collections []collectionResource `json:"collections,omitempty"`
	}
	for _, col := range cols {
		canRead, canWrite := s.authz.CanRead(ctx, r.Path, col.ID), s.authz.CanWrite(ctx, r.Path, col.ID)
		if canRead || canWrite {
			res.Collections = append(res.Collections, newCollectionResource(col, canRead, canWrite))
		}
	}
	if len(res.Collections) == 0 && !requester(c).IsAdmin() {
		return s.deny(c, endpointCollections, name, "", "nothing reachable in the API root", errNoAPIRoot(name))
	}
	return writeJSON(c, http.StatusOK, res)
}

func newCollectionResource(col collections.Collection, canRead, canWrite bool) collectionResource {
	return collectionResource{
		ID: col.ID, Title: col.Title, Description: col.Description, Alias: col.Alias,
		CanRead: canRead, CanWrite: canWrite, MediaTypes: col.MediaTypes,
	}
}

// access is what the requester may do with a collection.
type access struct{ read, write bool }

// lookupCollection returns the collection named by the :root and :coll path
// parameters (its id or alias) and what the requester may do with it. A
// collection the requester may neither read nor write is reported as
// missing, so that its existence does not leak; so is every collection of
// a missing API root, which then answers like a hidden one.
func (s *Server) lookupCollection(c *echo.Context, endpoint string) (collections.Collection, access, error) {
	ctx := c.Request().Context()
	root, name := c.Param("root"), c.Param("coll")
	var col collections.Collection
	err := collections.ErrNotFound
	if stix.IsUUID(name) { // collection ids are UUIDs; aliases may look like one
		col, err = s.store.Collection(ctx, root, name)
	}
	if errors.Is(err, collections.ErrNotFound) {
		col, err = s.collectionByAlias(c, root, name)
	}
	if errors.Is(err, collections.ErrNotFound) {
		return collections.Collection{}, access{}, s.absent(c, endpoint, root, name, errNoCollection(name))
	}
	if err != nil {
		return collections.Collection{}, access{}, err
	}
	a := access{read: s.authz.CanRead(ctx, root, col.ID), write: s.authz.CanWrite(ctx, root, col.ID)}
	if !a.read && !a.write {
		return collections.Collection{}, access{}, s.deny(c, endpoint, root, col.ID, "no grant", errNoCollection(name))
	}
	return col, a, nil
}

func errNoCollection(name string) error {
	return errorf(http.StatusNotFound, "no collection %q in this API root", clip(name))
}

// collectionByAlias returns the collection of the API root with the alias;
// collections.ErrNotFound when there is none, or no such API root.
//
// Clients that name a collection by its alias do so on every request, so
// the id an alias had is remembered and checked with one lookup by id:
// aliases change at run time, also through other replicas, so the
// collection found must still have the alias, else the API root's list is
// read again.
func (s *Server) collectionByAlias(c *echo.Context, root, alias string) (collections.Collection, error) {
	ctx := c.Request().Context()
	key := root + "\x00" + alias
	if id, ok := s.aliases.Load(key); ok {
		col, err := s.store.Collection(ctx, root, id.(string))
		if err == nil && col.Alias == alias {
			return col, nil
		}
		if err != nil && !errors.Is(err, collections.ErrNotFound) {
			return collections.Collection{}, err
		}
		s.aliases.CompareAndDelete(key, id)
	}
	cols, err := s.store.Collections(ctx, root)
	if err != nil {
		return collections.Collection{}, err
	}
	for _, col := range cols {
		if col.Alias != "" && col.Alias == alias {
			if s.aliasCount.Add(1) > maxCachedAliases {
				s.aliases.Clear() // aliases of deleted collections pile up only slowly
				s.aliasCount.Store(1)
			}
			s.aliases.Store(key, col.ID)
			return col, nil
		}
	}
	return collections.Collection{}, collections.ErrNotFound
}

// maxCachedAliases bounds the aliases remembered by collectionByAlias.
const maxCachedAliases = 10000

// readableCollection is lookupCollection for endpoints that read; it
// returns the conditions the requester reads the collection under.
func (s *Server) readableCollection(c *echo.Context, endpoint string) (collections.Collection, sharing, error) {
	col, a, err := s.lookupCollection(c, endpoint)
	if err == nil && !a.read {
		err = s.deny(c, endpoint, col.APIRoot, col.ID, "no read grant",
			errorf(http.StatusForbidden, "you may not read collection %q", col.ID))
	}
	if err != nil {
		return col, sharing{}, err
	}
	sh, err := s.sharingOf(c, endpoint, col)
	return col, sh, err
}

func (s *Server) collection(c *echo.Context) error {
	col, a, err := s.lookupCollection(c, endpointCollection)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, newCollectionResource(col, a.read, a.write))
}

// page runs a paginated query for endpoint and returns the page, the next
// token when there are more results, and the query it ran, bounded by the
// requester's conditions sh. obj is the object id from the path, if any.
func (s *Server) page(c *echo.Context, endpoint string, set filterSet, col collections.Collection, sh sharing, obj string, adjust func(*collections.Query)) (collections.Page, string, collections.Query, error) {
	f, err := s.parseFilters(c.Request().URL.RawQuery, set)
	if err != nil {
		return collections.Page{}, "", collections.Query{}, err
	}
	q := f.query
	q.APIRoot, q.Collection = col.APIRoot, col.ID
	q.MaxBytes = s.maxPageBytes
	if obj != "" {
		q.IDs = []string{obj}
	}
	if adjust != nil {
		adjust(&q)
	}
	sh.restrict(&q, time.Now())
	// The token is bound to everything that shapes the result but the page
	// size, which a client may change between pages.
	key := endpoint + "\n" + col.APIRoot + "\n" + col.ID + "\n" + obj + "\n" + f.key
	if f.next != "" {
		cursor, err := s.tokens.verify(key, f.next)
		if err != nil {
			return collections.Page{}, "", collections.Query{}, err
		}
		if cursor.After(q.AddedAfter) {
			q.AddedAfter = cursor
		}
	}
	p, err := s.objects(c.Request().Context(), q)
	if err != nil {
		return collections.Page{}, "", collections.Query{}, err
	}
	var next string
	if p.More && len(p.Objects) > 0 {
		next = s.tokens.issue(key, p.Objects[len(p.Objects)-1].DateAdded)
	}
	return p, next, q, nil
}

// dateAddedHeaders sets X-TAXII-Date-Added-First and -Last (TAXII 2.1
// section 3.2). For an empty page both carry the position the request
// started from (the epoch when it had none), so a client that polls with
// added_after set from -Last keeps its place.
func dateAddedHeaders(c *echo.Context, objs []collections.Object, from time.Time) {
	if from.IsZero() {
		from = time.Unix(0, 0)
	}
	first, last := from, from
	if len(objs) > 0 {
		first, last = objs[0].DateAdded, objs[len(objs)-1].DateAdded
	}
	h := c.Response().Header()
	h.Set("X-TAXII-Date-Added-First", taxiiTime(first))
	h.Set("X-TAXII-Date-Added-Last", taxiiTime(last))
}

func (s *Server) getObjects(c *echo.Context) error {
	col, sh, err := s.readableCollection(c, endpointObjects)
	if err != nil {
		return err
	}
	var mem *reservation
	defer func() {
		if mem != nil {
			mem.release()
		}
	}()
	p, next, q, err := s.pageWaiting(c, col, sh, func() (collections.Page, string, collections.Query, error) {
		var err error
		if mem, err = s.reserveMemory(c, int64(s.maxPageBytes)); err != nil {
			return collections.Page{}, "", collections.Query{}, err
		}
		p, next, q, err := s.page(c, "objects", objectsFilters, col, sh, "", nil)
		if err == nil {
			err = s.serve(col, &p, sh)
		}
		if err != nil || len(p.Objects) == 0 {
			// An empty page needs no memory to be written: a request
			// that waits for objects holds none.
			mem.release()
			mem = nil
		} else {
			mem.shrink(pageBytes(p))
		}
		return p, next, q, err
	})
	if err != nil {
		return err
	}
	s.recordRead(c, endpointObjects, col, len(p.Objects))
	return s.writeEnvelope(c, p, next, q.AddedAfter)
}

// manifestRecord is TAXII 2.1 section 5.3.1.
type manifestRecord struct {
	ID        string `json:"id"`
	DateAdded string `json:"date_added"`
	Version   string `json:"version"`
	MediaType string `json:"media_type"`
}

func (s *Server) manifest(c *echo.Context) error {
	col, sh, err := s.readableCollection(c, endpointManifest)
	if err != nil {
		return err
	}
	p, next, q, err := s.pageWaiting(c, col, sh, func() (collections.Page, string, collections.Query, error) {
		return s.page(c, "manifest", objectsFilters, col, sh, "", metadataOnly)
	})
	if err != nil {
		return err
	}
	var res struct {
		More    bool             `json:"more,omitempty"`
		Next    string           `json:"next,omitempty"`
		Objects []manifestRecord `json:"objects,omitempty"`
	}
	res.More, res.Next = p.More, next
	for _, o := range p.Objects {
		res.Objects = append(res.Objects, manifestRecord{
			ID:        o.ID,
			DateAdded: taxiiTime(o.DateAdded),
			Version:   stix.FormatTimestamp(o.Version),
			MediaType: mediaTypeSTIX + o.SpecVersion,
		})
	}
	dateAddedHeaders(c, p.Objects, q.AddedAfter)
	s.recordRead(c, endpointManifest, col, len(p.Objects))
	return writeJSON(c, http.StatusOK, res)
}

func metadataOnly(q *collections.Query) { q.MetadataOnly = true }

// requireMatch answers an empty page of one object's versions: a 404
// unless some version of the object matches q's version and spec-version
// filters, whatever added_after and the page position. Both questions keep
// q's TLP ceiling and embargo: a version the requester may not see does not
// exist for it, not even in the choice of an error. TAXII 2.1 section
// 5.7: after a delete, any later fetch of that object or version MUST
// return 404; an object that has matching versions, none of them on this
// page (added after the given time, or past a next token), is an empty
// page instead.
func (s *Server) requireMatch(c *echo.Context, q collections.Query, id string) error {
	ctx := c.Request().Context()
	q.AddedAfter, q.Limit, q.MaxBytes, q.MetadataOnly = time.Time{}, 1, 0, true
	p, err := s.store.Objects(ctx, q)
	if err != nil || len(p.Objects) > 0 {
		return err
	}
	p, err = s.store.Objects(ctx, collections.Query{
		APIRoot: q.APIRoot, Collection: q.Collection, IDs: []string{id},
		Versions: collections.VersionFilter{All: true}, Limit: 1, MetadataOnly: true,
		MaxTLP: q.MaxTLP, AddedUntil: q.AddedUntil,
	})
	if err != nil {
		return err
	}
	if len(p.Objects) == 0 {
		return errorf(http.StatusNotFound, "no object %q in this collection", clip(id))
	}
	return errorf(http.StatusNotFound, "no version of object %q matches the version and spec_version filters", clip(id))
}

func (s *Server) getObject(c *echo.Context) error {
	col, sh, err := s.readableCollection(c, endpointObject)
	if err != nil {
		return err
	}
	mem, err := s.reserveMemory(c, int64(s.maxPageBytes))
	if err != nil {
		return err
	}
	defer mem.release()
	id := c.Param("obj")
	p, next, q, err := s.page(c, "object", objectFilters, col, sh, id, nil)
	if err != nil {
		return err
	}
	if err := s.serve(col, &p, sh); err != nil {
		return err
	}
	mem.shrink(pageBytes(p))
	if len(p.Objects) == 0 {
		if err := s.requireMatch(c, q, id); err != nil {
			return err
		}
	}
	s.recordRead(c, endpointObject, col, len(p.Objects))
	return s.writeEnvelope(c, p, next, q.AddedAfter)
}

func (s *Server) versions(c *echo.Context) error {
	col, sh, err := s.readableCollection(c, endpointVersions)
	if err != nil {
		return err
	}
	id := c.Param("obj")
	p, next, q, err := s.page(c, "versions", versionsFilters, col, sh, id, func(q *collections.Query) {
		q.Versions = collections.VersionFilter{All: true}
		q.MetadataOnly = true
	})
	if err != nil {
		return err
	}
	if len(p.Objects) == 0 {
		if err := s.requireMatch(c, q, id); err != nil {
			return err
		}
	}
	// versionsResource is TAXII 2.1 section 5.8.1.
	var res struct {
		More     bool     `json:"more,omitempty"`
		Next     string   `json:"next,omitempty"`
		Versions []string `json:"versions,omitempty"`
	}
	res.More, res.Next = p.More, next
	for _, o := range p.Objects {
		res.Versions = append(res.Versions, stix.FormatTimestamp(o.Version))
	}
	dateAddedHeaders(c, p.Objects, q.AddedAfter)
	s.recordRead(c, endpointVersions, col, len(p.Objects))
	return writeJSON(c, http.StatusOK, res)
}

func (s *Server) deleteObject(c *echo.Context) error {
	col, a, err := s.lookupCollection(c, endpointDelete)
	if err != nil {
		return err
	}
	// TAXII 2.1 section 5.7 (table of the DELETE responses): a collection
	// the requester cannot see is a 404 (lookupCollection), one it can see
	// without both can_read and can_write a 403.
	if !a.read || !a.write {
		return s.deny(c, endpointDelete, col.APIRoot, col.ID, "delete needs read and write grants",
			errorf(http.StatusForbidden, "deleting from collection %q needs read and write access", col.ID))
	}
	f, err := s.parseFilters(c.Request().URL.RawQuery, deleteFilters)
	if err != nil {
		return err
	}
	versions := f.query.Versions
	if versions.IsZero() {
		versions.All = true // an unfiltered DELETE removes the object
	}
	id := c.Param("obj")
	n, err := s.store.DeleteObject(c.Request().Context(), col.APIRoot, col.ID, id, versions, f.query.SpecVersions)
	if errors.Is(err, collections.ErrNotFound) {
		return errorf(http.StatusNotFound, "no object %q matching the filters in this collection", clip(id))
	}
	if err != nil {
		return err
	}
	s.record(c, authz.AuditEvent{
		Action: AuditDelete, APIRoot: col.APIRoot, Collection: col.ID,
		Details: details(map[string]any{"object": clip(id), "versions_deleted": n}),
	})
	c.Response().Header().Set(echo.HeaderContentType, MediaTypeTAXII)
	return c.NoContent(http.StatusOK)
}

// addObjects is TAXII 2.1 section 5.5.
func (s *Server) addObjects(c *echo.Context) error {
	col, a, err := s.lookupCollection(c, endpointAddObjects)
	if err != nil {
		return err
	}
	if !a.write {
		return s.deny(c, endpointAddObjects, col.APIRoot, col.ID, "no write grant",
			errorf(http.StatusForbidden, "you may not write to collection %q", col.ID))
	}
	req := c.Request()
	if !isTAXIIContentType(req.Header.Get(echo.HeaderContentType)) {
		return errorf(http.StatusUnsupportedMediaType, "send the envelope as %s", MediaTypeTAXII)
	}
	root, ok, err := s.findRoot(c)
	if err != nil {
		return err
	}
	if !ok { // removed meanwhile
		return errNoCollection(c.Param("coll"))
	}
	// Refuse an oversized body before reading it when its length is
	// declared, and stop reading at the limit when it is not.
	if req.ContentLength > root.MaxContentLength {
		return errorf(http.StatusRequestEntityTooLarge,
			"the request body of %d bytes exceeds the API root's max_content_length of %d bytes", req.ContentLength, root.MaxContentLength)
	}
	charge := req.ContentLength
	if charge < 0 {
		charge = root.MaxContentLength
	}
	mem, err := s.reserveMemory(c, charge)
	if err != nil {
		return err
	}
	defer mem.release()
	objs, err := decodeEnvelope(http.MaxBytesReader(c.Response(), req.Body, root.MaxContentLength), s.maxObjects)
	if err != nil {
		return err
	}
	// The status belongs to the requester's organization (TAXII 2.1
	// section 4.3 leaves who may read it to the server).
	st, err := s.ingester.Ingest(req.Context(), col, requester(c).OrganizationID, objs)
	if err != nil {
		return err
	}
	s.record(c, authz.AuditEvent{
		Action: AuditAdd, APIRoot: col.APIRoot, Collection: col.ID,
		Details: details(map[string]any{
			"status": st.ID, "total": st.TotalCount, "successes": len(st.Successes),
			"failures": len(st.Failures), "pending": len(st.Pendings),
		}),
	})
	return writeJSON(c, http.StatusAccepted, newStatusResource(st))
}

// recordRead audits and counts records served from a collection.
func (s *Server) recordRead(c *echo.Context, endpoint string, col collections.Collection, served int) {
	s.metrics.Served(endpoint, served)
	if s.audit == nil {
		return
	}
	s.record(c, authz.AuditEvent{
		Action: AuditRead, APIRoot: col.APIRoot, Collection: col.ID,
		Details: details(map[string]any{"endpoint": endpoint, "served": served}),
	})
}
