package taxii

import (
	"context"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v5"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections/mirror"
)

// Audit actions of changes to mirrored sources.
const (
	AuditSourceCreate = "admin.source.create"
	AuditSourceDelete = "admin.source.delete"
)

// sourceRoutes registers /admin/sources: the remote TAXII collections
// mirrored into local ones (collections/mirror). Admins only; without a
// mirror service there are none.
func (s *Server) sourceRoutes(e *echo.Echo) {
	if s.sources == nil {
		return
	}
	m := s.sources
	get(e, "/admin/sources", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		if err := adminPrincipal(ctx); err != nil {
			return err
		}
		all, err := m.Sources(ctx)
		if err != nil {
			return err
		}
		return writeAdminJSON(c, http.StatusOK, map[string]any{"items": all})
	}))
	e.POST("/admin/sources", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		if err := adminPrincipal(ctx); err != nil {
			return err
		}
		var in mirror.SourceInput
		if err := decodeBody(c, &in); err != nil {
			return err
		}
		v, err := m.CreateSource(ctx, in)
		if err != nil {
			return err
		}
		// The event names where the source points, never its secrets.
		s.record(c, authz.AuditEvent{Action: AuditSourceCreate, APIRoot: v.APIRoot, Collection: v.Collection,
			Details: details(map[string]any{"name": v.Name, "url": clipName(v.URL), "direction": v.Direction})})
		return writeAdminJSON(c, http.StatusCreated, v)
	}))
	get(e, "/admin/sources/:source", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		if err := adminPrincipal(ctx); err != nil {
			return err
		}
		return reply(c, http.StatusOK)(m.Source(ctx, c.Param("source")))
	}))
	e.DELETE("/admin/sources/:source", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		if err := adminPrincipal(ctx); err != nil {
			return err
		}
		if err := m.DeleteSource(ctx, c.Param("source")); err != nil {
			return err
		}
		s.record(c, authz.AuditEvent{Action: AuditSourceDelete, Details: details(map[string]any{"name": clipName(c.Param("source"))})})
		return c.NoContent(http.StatusNoContent)
	}))
}

// adminPrincipal refuses a requester that is not an admin: sources hold
// credentials to other servers and fill collections of any API root.
func adminPrincipal(ctx context.Context) error {
	p, _ := authz.FromContext(ctx)
	switch {
	case p.Anonymous():
		return fmt.Errorf("%w: credentials are required", authz.ErrUnauthenticated)
	case !p.IsAdmin():
		return fmt.Errorf("%w: only admins may manage mirrored sources", authz.ErrForbidden)
	}
	return nil
}
