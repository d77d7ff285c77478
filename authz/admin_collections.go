package authz

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// Defaults of API roots and collections created without them.
const (
	// DefaultMaxContentLength is the largest POST body of a new API root:
	// 100 MiB, the example of TAXII 2.1 section 4.2.1.
	DefaultMaxContentLength = 100 << 20
	// DefaultMediaType is the media type of a new collection.
	DefaultMediaType = "application/stix+json;version=2.1"
)

// APIRootView is an API root as the admin API shows it. Declared: the
// configuration file declares it (it cannot be changed here).
type APIRootView struct {
	Path             string `json:"path"`
	Title            string `json:"title"`
	Description      string `json:"description"`
	MaxContentLength int64  `json:"max_content_length"`
	Declared         bool   `json:"declared"`
}

// APIRootInput creates an API root (Path and Title required) or, with only
// the fields to change set (Path aside), updates one.
type APIRootInput struct {
	Path             *string `json:"path"`
	Title            *string `json:"title"`
	Description      *string `json:"description"`
	MaxContentLength *int64  `json:"max_content_length"`
}

// CollectionView is a collection as the admin API shows it.
type CollectionView struct {
	APIRoot     string   `json:"api_root"`
	ID          string   `json:"id"`
	Alias       string   `json:"alias,omitempty"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	MediaTypes  []string `json:"media_types"`
	// Validation is the validation level of pushed objects; "" the
	// server's.
	Validation string `json:"validation,omitempty"`
	// UnmarkedTLP is the level recorded for versions pushed without a TLP
	// marking: red unless the collection sets a lower one.
	UnmarkedTLP stix.TLP `json:"unmarked_tlp"`
	Declared    bool     `json:"declared"`
}

// CollectionInput creates a collection (Title required; a new id when ID
// is not set) or, with only the fields to change set (ID aside), updates
// one. An empty Alias removes the alias.
type CollectionInput struct {
	ID          *string   `json:"id"`
	Alias       *string   `json:"alias"`
	Title       *string   `json:"title"`
	Description *string   `json:"description"`
	MediaTypes  *[]string `json:"media_types"`
	Validation  *string   `json:"validation"`
	// UnmarkedTLP names the level recorded for versions pushed without a
	// TLP marking from now on; "" is the default, red.
	UnmarkedTLP *string `json:"unmarked_tlp"`
}

func (a *Admin) viewRoot(r collections.APIRoot) APIRootView {
	return APIRootView{Path: r.Path, Title: r.Title, Description: r.Description,
		MaxContentLength: r.MaxContentLength, Declared: a.declared.root(r.Path)}
}

func (a *Admin) viewCollection(c collections.Collection) CollectionView {
	media := c.MediaTypes
	if media == nil {
		media = []string{}
	}
	unmarked := c.UnmarkedTLP
	if unmarked == stix.TLPNone {
		unmarked = stix.TLPRed // what ingest records for it
	}
	return CollectionView{APIRoot: c.APIRoot, ID: c.ID, Alias: c.Alias, Title: c.Title, Description: c.Description,
		MediaTypes: media, Validation: c.Validation, UnmarkedTLP: unmarked, Declared: a.declared.collection(c.APIRoot, c.ID)}
}

// unmarkedTLP reads the unmarked_tlp of an input: a TLP level by name, or
// "" for the default.
func unmarkedTLP(name string) (stix.TLP, error) {
	l, err := stix.ParseTLP(name)
	if err != nil {
		return stix.TLPNone, invalid("unmarked_tlp", "%q is not clear, white, green, amber, amber+strict or red", name)
	}
	return l, nil
}

// fieldOf turns the first problem collections' Validate reports into an
// *InvalidError naming the field, with every problem as the reason.
func fieldOf(err error) error {
	var ie *collections.InvalidError
	if !errors.As(err, &ie) || len(ie.Problems) == 0 {
		return err
	}
	field := ""
	first := ie.Problems[0]
	for _, f := range []struct{ prefix, field string }{
		{"path", "path"}, {"title", "title"}, {"max_content_length", "max_content_length"},
		{"id", "id"}, {"alias", "alias"}, {"validation", "validation"}, {"media type", "media_types"},
		{"description", "description"},
	} {
		if strings.HasPrefix(first, f.prefix) {
			field = f.field
			break
		}
	}
	return &InvalidError{Field: field, Reason: strings.Join(ie.Problems, "; ")}
}

// apiRoot returns the stored API root with path.
func (a *Admin) apiRoot(ctx context.Context, path string) (collections.APIRoot, error) {
	roots, err := a.colls.APIRoots(ctx)
	if err != nil {
		return collections.APIRoot{}, err
	}
	for _, r := range roots {
		if r.Path == path {
			return r, nil
		}
	}
	return collections.APIRoot{}, fmt.Errorf("API root %q: %w", path, ErrNotFound)
}

// APIRoots lists the API roots by path (admins only).
func (a *Admin) APIRoots(ctx context.Context, pg Page) (List[APIRootView], error) {
	if _, err := adminOnly(ctx); err != nil {
		return List[APIRootView]{}, err
	}
	limit, after, err := pg.check()
	if err != nil {
		return List[APIRootView]{}, err
	}
	roots, err := a.colls.APIRoots(ctx)
	if err != nil {
		return List[APIRootView]{}, err
	}
	i := 0
	for i < len(roots) && roots[i].Path <= after {
		i++
	}
	return page(roots[i:], limit, func(r collections.APIRoot) string { return r.Path }, a.viewRoot), nil
}

// APIRoot returns one API root (admins only).
func (a *Admin) APIRoot(ctx context.Context, path string) (APIRootView, error) {
	if _, err := adminOnly(ctx); err != nil {
		return APIRootView{}, err
	}
	r, err := a.apiRoot(ctx, path)
	if err != nil {
		return APIRootView{}, err
	}
	return a.viewRoot(r), nil
}

// CreateAPIRoot creates an API root, served at once (admins only).
func (a *Admin) CreateAPIRoot(ctx context.Context, in APIRootInput) (APIRootView, error) {
	p, err := adminOnly(ctx)
	if err != nil {
		return APIRootView{}, err
	}
	if in.Path == nil {
		return APIRootView{}, invalid("path", "missing")
	}
	r := collections.APIRoot{Path: *in.Path, Title: deref(in.Title), Description: deref(in.Description),
		MaxContentLength: DefaultMaxContentLength}
	if in.MaxContentLength != nil {
		r.MaxContentLength = *in.MaxContentLength
	}
	if err := r.Validate(); err != nil {
		return APIRootView{}, fieldOf(err)
	}
	if _, err := a.apiRoot(ctx, r.Path); err == nil {
		return APIRootView{}, conflict("path", "an API root %q exists", r.Path)
	} else if !errors.Is(err, ErrNotFound) {
		return APIRootView{}, err
	}
	if err := a.colls.PutAPIRoot(ctx, r); err != nil {
		return APIRootView{}, fieldOf(err)
	}
	v := a.viewRoot(r)
	return v, a.record(ctx, p, "api_root", actionCreate, r.Path, "", nil, v)
}

// refuseDeclared refuses to change what the configuration file declares:
// it would be written back at the next start.
func refuseDeclared(what string) error {
	return conflict("", "%s is declared in the configuration file: change it there", what)
}

// UpdateAPIRoot changes the fields set in in (admins only).
func (a *Admin) UpdateAPIRoot(ctx context.Context, path string, in APIRootInput) (APIRootView, error) {
	p, err := adminOnly(ctx)
	if err != nil {
		return APIRootView{}, err
	}
	before, err := a.apiRoot(ctx, path)
	if err != nil {
		return APIRootView{}, err
	}
	if in.Path != nil && *in.Path != path {
		return APIRootView{}, invalid("path", "cannot change: create another API root")
	}
	if a.declared.root(path) {
		return APIRootView{}, refuseDeclared(fmt.Sprintf("API root %q", path))
	}
	r := before
	if in.Title != nil {
		r.Title = *in.Title
	}
	if in.Description != nil {
		r.Description = *in.Description
	}
	if in.MaxContentLength != nil {
		r.MaxContentLength = *in.MaxContentLength
	}
	if err := r.Validate(); err != nil {
		return APIRootView{}, fieldOf(err)
	}
	if err := a.colls.PutAPIRoot(ctx, r); err != nil {
		return APIRootView{}, fieldOf(err)
	}
	v := a.viewRoot(r)
	return v, a.record(ctx, p, "api_root", actionUpdate, r.Path, "", a.viewRoot(before), v)
}

// DeleteAPIRoot removes an API root without collections that the
// configuration file does not declare (admins only).
func (a *Admin) DeleteAPIRoot(ctx context.Context, path string) error {
	p, err := adminOnly(ctx)
	if err != nil {
		return err
	}
	r, err := a.apiRoot(ctx, path)
	if err != nil {
		return err
	}
	if a.declared.root(path) {
		return refuseDeclared(fmt.Sprintf("API root %q", path))
	}
	err = a.colls.DeleteAPIRoot(ctx, path)
	if errors.Is(err, collections.ErrConflict) {
		return conflict("", "the API root still has collections: delete them first")
	}
	if errors.Is(err, collections.ErrNotFound) {
		return fmt.Errorf("API root %q: %w", path, ErrNotFound)
	}
	if err != nil {
		return err
	}
	return a.record(ctx, p, "api_root", actionDelete, path, "", a.viewRoot(r), nil)
}

// Collections lists the collections of an API root by id (admins only).
func (a *Admin) Collections(ctx context.Context, root string, pg Page) (List[CollectionView], error) {
	if _, err := adminOnly(ctx); err != nil {
		return List[CollectionView]{}, err
	}
	limit, after, err := pg.check()
	if err != nil {
		return List[CollectionView]{}, err
	}
	cs, err := a.colls.Collections(ctx, root)
	if errors.Is(err, collections.ErrNotFound) {
		return List[CollectionView]{}, fmt.Errorf("API root %q: %w", root, ErrNotFound)
	}
	if err != nil {
		return List[CollectionView]{}, err
	}
	i := 0
	for i < len(cs) && cs[i].ID <= after {
		i++
	}
	return page(cs[i:], limit, func(c collections.Collection) string { return c.ID }, a.viewCollection), nil
}

// collection returns a stored collection, as ErrNotFound of this package
// when it does not exist.
func (a *Admin) collection(ctx context.Context, root, id string) (collections.Collection, error) {
	c, err := a.colls.Collection(ctx, root, id)
	if errors.Is(err, collections.ErrNotFound) {
		return c, fmt.Errorf("collection %s/%s: %w", root, id, ErrNotFound)
	}
	return c, err
}

// Collection returns one collection (admins only).
func (a *Admin) Collection(ctx context.Context, root, id string) (CollectionView, error) {
	if _, err := adminOnly(ctx); err != nil {
		return CollectionView{}, err
	}
	c, err := a.collection(ctx, root, id)
	if err != nil {
		return CollectionView{}, err
	}
	return a.viewCollection(c), nil
}

// putCollection stores c, checked first so that each problem names its
// field: the id and alias must be free.
func (a *Admin) putCollection(ctx context.Context, c collections.Collection, isNew bool) error {
	if err := c.Validate(); err != nil {
		return fieldOf(err)
	}
	cs, err := a.colls.Collections(ctx, c.APIRoot)
	if errors.Is(err, collections.ErrNotFound) {
		return fmt.Errorf("API root %q: %w", c.APIRoot, ErrNotFound)
	}
	if err != nil {
		return err
	}
	for _, o := range cs {
		if isNew && o.ID == c.ID {
			return conflict("id", "a collection %s exists", c.ID)
		}
		if o.ID != c.ID && c.Alias != "" && o.Alias == c.Alias {
			return conflict("alias", "collection %s has the alias %q", o.ID, c.Alias)
		}
	}
	err = a.colls.PutCollection(ctx, c)
	switch {
	case errors.Is(err, collections.ErrConflict):
		// A collection id names one collection in the whole store.
		return conflict("id", "the id or alias is taken")
	case errors.Is(err, collections.ErrNotFound):
		return fmt.Errorf("API root %q: %w", c.APIRoot, ErrNotFound)
	case err != nil:
		return fieldOf(err)
	}
	return nil
}

// CreateCollection creates a collection in an API root, served at once
// (admins only). Nobody but admins can reach it until something is
// granted.
func (a *Admin) CreateCollection(ctx context.Context, root string, in CollectionInput) (CollectionView, error) {
	p, err := adminOnly(ctx)
	if err != nil {
		return CollectionView{}, err
	}
	c := collections.Collection{APIRoot: root, ID: deref(in.ID), Alias: deref(in.Alias), Title: deref(in.Title),
		Description: deref(in.Description), MediaTypes: []string{DefaultMediaType}, Validation: deref(in.Validation)}
	if in.ID == nil {
		c.ID = newCollectionID()
	}
	if in.MediaTypes != nil {
		c.MediaTypes = *in.MediaTypes
	}
	if in.UnmarkedTLP != nil {
		if c.UnmarkedTLP, err = unmarkedTLP(*in.UnmarkedTLP); err != nil {
			return CollectionView{}, err
		}
	}
	if err := a.putCollection(ctx, c, true); err != nil {
		return CollectionView{}, err
	}
	v := a.viewCollection(c)
	return v, a.record(ctx, p, "collection", actionCreate, root, c.ID, nil, v)
}

// UpdateCollection changes the fields set in in (admins only); the objects
// stay.
func (a *Admin) UpdateCollection(ctx context.Context, root, id string, in CollectionInput) (CollectionView, error) {
	p, err := adminOnly(ctx)
	if err != nil {
		return CollectionView{}, err
	}
	before, err := a.collection(ctx, root, id)
	if err != nil {
		return CollectionView{}, err
	}
	if in.ID != nil && *in.ID != id {
		return CollectionView{}, invalid("id", "cannot change: create another collection")
	}
	if a.declared.collection(root, id) {
		return CollectionView{}, refuseDeclared(fmt.Sprintf("collection %s/%s", root, id))
	}
	c := before
	if in.Alias != nil {
		c.Alias = *in.Alias
	}
	if in.Title != nil {
		c.Title = *in.Title
	}
	if in.Description != nil {
		c.Description = *in.Description
	}
	if in.MediaTypes != nil {
		c.MediaTypes = *in.MediaTypes
	}
	if in.Validation != nil {
		c.Validation = *in.Validation
	}
	if in.UnmarkedTLP != nil {
		// Levels are recorded at ingest: versions stored before keep theirs.
		if c.UnmarkedTLP, err = unmarkedTLP(*in.UnmarkedTLP); err != nil {
			return CollectionView{}, err
		}
	}
	if err := a.putCollection(ctx, c, false); err != nil {
		return CollectionView{}, err
	}
	v := a.viewCollection(c)
	return v, a.record(ctx, p, "collection", actionUpdate, root, id, a.viewCollection(before), v)
}

// collectionDeleted is the Details "after" of a collection deletion.
type collectionDeleted struct {
	GrantsRemoved int `json:"grants_removed"`
}

// DeleteCollection removes a collection the configuration file does not
// declare, with its objects and the grants on it (admins only).
func (a *Admin) DeleteCollection(ctx context.Context, root, id string) error {
	p, err := adminOnly(ctx)
	if err != nil {
		return err
	}
	c, err := a.collection(ctx, root, id)
	if err != nil {
		return err
	}
	if a.declared.collection(root, id) {
		return refuseDeclared(fmt.Sprintf("collection %s/%s", root, id))
	}
	if err := a.colls.DeleteCollection(ctx, root, id); err != nil {
		if errors.Is(err, collections.ErrNotFound) {
			return fmt.Errorf("collection %s/%s: %w", root, id, ErrNotFound)
		}
		return err
	}
	// The collection is gone first, so that a failure here leaves grants
	// on nothing rather than a collection without its grants.
	n, err := a.deleteGrantsOf(ctx, root, id)
	if err != nil {
		return err
	}
	return a.record(ctx, p, "collection", actionDelete, root, id, a.viewCollection(c), collectionDeleted{GrantsRemoved: n})
}
