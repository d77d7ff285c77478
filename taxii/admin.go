package taxii

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v5"

	"github.com/taxiid/taxiid/authz"
)

// The administration API: JSON under /admin/, answered by the operations
// router (plain JSON, errors as {"error": ..., "field": ...}). Every route
// calls one method of authz.Admin, which decides who may do what, checks
// the input and audits the change; this file only moves JSON in and out.
// openapi.json describes every route (TestOpenAPIRoutes keeps the two
// in step).

// adminRoutes registers the administration routes on the operations
// router; without an admin service there are none.
func (s *Server) adminRoutes(e *echo.Echo) {
	if s.admin == nil {
		return
	}
	a := s.admin
	get(e, "/admin/openapi.json", s.adminCall(s.openAPI))
	get(e, "/admin/me", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		return reply(c, http.StatusOK)(a.Me(ctx))
	}))

	get(e, "/admin/organizations", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		pg, err := pageQuery(c)
		if err != nil {
			return err
		}
		return reply(c, http.StatusOK)(a.Organizations(ctx, pg))
	}))
	e.POST("/admin/organizations", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		var in authz.OrganizationInput
		if err := decodeBody(c, &in); err != nil {
			return err
		}
		return reply(c, http.StatusCreated)(a.CreateOrganization(ctx, in))
	}))
	get(e, "/admin/organizations/:org", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		return reply(c, http.StatusOK)(a.Organization(ctx, c.Param("org")))
	}))
	e.PATCH("/admin/organizations/:org", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		var in authz.OrganizationInput
		if err := decodeBody(c, &in); err != nil {
			return err
		}
		return reply(c, http.StatusOK)(a.UpdateOrganization(ctx, c.Param("org"), in))
	}))
	e.DELETE("/admin/organizations/:org", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		return noContent(c, a.DeleteOrganization(ctx, c.Param("org")))
	}))
	get(e, "/admin/organizations/:org/access", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		pg, err := pageQuery(c)
		if err != nil {
			return err
		}
		return reply(c, http.StatusOK)(a.OrganizationAccess(ctx, c.Param("org"), pg))
	}))

	get(e, "/admin/users", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		pg, err := pageQuery(c, "organization_id")
		if err != nil {
			return err
		}
		return reply(c, http.StatusOK)(a.Users(ctx, c.QueryParam("organization_id"), pg))
	}))
	e.POST("/admin/users", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		var in authz.UserInput
		if err := decodeBody(c, &in); err != nil {
			return err
		}
		return reply(c, http.StatusCreated)(a.CreateUser(ctx, in))
	}))
	get(e, "/admin/users/:user", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		return reply(c, http.StatusOK)(a.User(ctx, c.Param("user")))
	}))
	e.PATCH("/admin/users/:user", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		var in authz.UserInput
		if err := decodeBody(c, &in); err != nil {
			return err
		}
		return reply(c, http.StatusOK)(a.UpdateUser(ctx, c.Param("user"), in))
	}))
	e.DELETE("/admin/users/:user", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		return noContent(c, a.DeleteUser(ctx, c.Param("user")))
	}))
	e.POST("/admin/users/:user/password", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		var in authz.PasswordInput
		if err := decodeOptionalBody(c, &in); err != nil {
			return err
		}
		return reply(c, http.StatusOK)(a.SetPassword(ctx, c.Param("user"), in))
	}))

	get(e, "/admin/users/:user/tokens", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		pg, err := pageQuery(c)
		if err != nil {
			return err
		}
		return reply(c, http.StatusOK)(a.Tokens(ctx, c.Param("user"), pg))
	}))
	e.POST("/admin/users/:user/tokens", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		var in authz.TokenInput
		if err := decodeBody(c, &in); err != nil {
			return err
		}
		return reply(c, http.StatusCreated)(a.CreateToken(ctx, c.Param("user"), in))
	}))
	get(e, "/admin/users/:user/tokens/:token", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		return reply(c, http.StatusOK)(a.Token(ctx, c.Param("user"), c.Param("token")))
	}))
	e.DELETE("/admin/users/:user/tokens/:token", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		return noContent(c, a.DeleteToken(ctx, c.Param("user"), c.Param("token")))
	}))
	e.POST("/admin/users/:user/tokens/:token/revoke", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		if err := decodeOptionalBody(c, &struct{}{}); err != nil {
			return err
		}
		return reply(c, http.StatusOK)(a.RevokeToken(ctx, c.Param("user"), c.Param("token")))
	}))

	get(e, "/admin/users/:user/certificates", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		pg, err := pageQuery(c)
		if err != nil {
			return err
		}
		return reply(c, http.StatusOK)(a.CertificateBindings(ctx, c.Param("user"), pg))
	}))
	e.POST("/admin/users/:user/certificates", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		var in authz.CertificateBindingInput
		if err := decodeBody(c, &in); err != nil {
			return err
		}
		return reply(c, http.StatusCreated)(a.CreateCertificateBinding(ctx, c.Param("user"), in))
	}))
	get(e, "/admin/users/:user/certificates/:binding", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		return reply(c, http.StatusOK)(a.CertificateBinding(ctx, c.Param("user"), c.Param("binding")))
	}))
	e.DELETE("/admin/users/:user/certificates/:binding", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		return noContent(c, a.DeleteCertificateBinding(ctx, c.Param("user"), c.Param("binding")))
	}))

	get(e, "/admin/grants", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		pg, err := pageQuery(c, "subject_kind", "subject_id", "api_root", "collection", "action")
		if err != nil {
			return err
		}
		q := authz.GrantQuery{
			SubjectKind: authz.SubjectKind(c.QueryParam("subject_kind")), SubjectID: c.QueryParam("subject_id"),
			APIRoot: c.QueryParam("api_root"), Collection: c.QueryParam("collection"), Action: authz.Action(c.QueryParam("action")),
		}
		return reply(c, http.StatusOK)(a.Grants(ctx, q, pg))
	}))
	e.POST("/admin/grants", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		var in authz.GrantInput
		if err := decodeBody(c, &in); err != nil {
			return err
		}
		return reply(c, http.StatusCreated)(a.CreateGrant(ctx, in))
	}))
	get(e, "/admin/grants/:grant", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		return reply(c, http.StatusOK)(a.Grant(ctx, c.Param("grant")))
	}))
	e.DELETE("/admin/grants/:grant", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		return noContent(c, a.DeleteGrant(ctx, c.Param("grant")))
	}))
	e.PUT("/admin/grants/:grant/conditions", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		var in authz.ConditionsInput
		if err := decodeBody(c, &in); err != nil {
			return err
		}
		return reply(c, http.StatusOK)(a.UpdateGrantConditions(ctx, c.Param("grant"), in))
	}))

	get(e, "/admin/api-roots", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		pg, err := pageQuery(c)
		if err != nil {
			return err
		}
		return reply(c, http.StatusOK)(a.APIRoots(ctx, pg))
	}))
	e.POST("/admin/api-roots", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		var in authz.APIRootInput
		if err := decodeBody(c, &in); err != nil {
			return err
		}
		return reply(c, http.StatusCreated)(a.CreateAPIRoot(ctx, in))
	}))
	get(e, "/admin/api-roots/:root", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		return reply(c, http.StatusOK)(a.APIRoot(ctx, c.Param("root")))
	}))
	e.PATCH("/admin/api-roots/:root", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		var in authz.APIRootInput
		if err := decodeBody(c, &in); err != nil {
			return err
		}
		return reply(c, http.StatusOK)(a.UpdateAPIRoot(ctx, c.Param("root"), in))
	}))
	e.DELETE("/admin/api-roots/:root", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		return noContent(c, a.DeleteAPIRoot(ctx, c.Param("root")))
	}))

	get(e, "/admin/api-roots/:root/collections", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		pg, err := pageQuery(c)
		if err != nil {
			return err
		}
		return reply(c, http.StatusOK)(a.Collections(ctx, c.Param("root"), pg))
	}))
	e.POST("/admin/api-roots/:root/collections", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		var in authz.CollectionInput
		if err := decodeBody(c, &in); err != nil {
			return err
		}
		return reply(c, http.StatusCreated)(a.CreateCollection(ctx, c.Param("root"), in))
	}))
	get(e, "/admin/api-roots/:root/collections/:coll", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		return reply(c, http.StatusOK)(a.Collection(ctx, c.Param("root"), c.Param("coll")))
	}))
	e.PATCH("/admin/api-roots/:root/collections/:coll", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		var in authz.CollectionInput
		if err := decodeBody(c, &in); err != nil {
			return err
		}
		return reply(c, http.StatusOK)(a.UpdateCollection(ctx, c.Param("root"), c.Param("coll"), in))
	}))
	e.DELETE("/admin/api-roots/:root/collections/:coll", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		return noContent(c, a.DeleteCollection(ctx, c.Param("root"), c.Param("coll")))
	}))
	get(e, "/admin/api-roots/:root/collections/:coll/access", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		pg, err := pageQuery(c)
		if err != nil {
			return err
		}
		return reply(c, http.StatusOK)(a.CollectionAccess(ctx, c.Param("root"), c.Param("coll"), pg))
	}))

	if s.grants != nil {
		get(e, "/admin/visibility", s.adminCall(s.visibility))
	}

	get(e, "/admin/audit", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		pg, err := pageQuery(c, "user_id", "organization_id", "action", "api_root", "collection", "since", "until")
		if err != nil {
			return err
		}
		q := authz.AuditQuery{UserID: c.QueryParam("user_id"), OrganizationID: c.QueryParam("organization_id"),
			Action: c.QueryParam("action"), APIRoot: c.QueryParam("api_root"), Collection: c.QueryParam("collection")}
		if q.Since, err = timeQuery(c, "since"); err != nil {
			return err
		}
		if q.Until, err = timeQuery(c, "until"); err != nil {
			return err
		}
		return reply(c, http.StatusOK)(a.AuditEvents(ctx, q, pg))
	}))
}

// AuditAdminDenied is the action of the audit events of refused admin
// requests: no credentials (401), not allowed (403), or a record of
// another organization answered as missing (404). Details give the status,
// the method and the path.
const AuditAdminDenied = "admin.denied"

// adminCall runs an admin handler with the request's context carrying the
// source address for the audit of changes, and audits refusals.
func (s *Server) adminCall(h func(c *echo.Context, ctx context.Context) error) echo.HandlerFunc {
	return func(c *echo.Context) error {
		r := c.Request()
		ctx := authz.WithSourceAddress(r.Context(), sourceAddress(r))
		err := h(c, ctx)
		status := 0
		switch {
		case errors.Is(err, authz.ErrUnauthenticated):
			status = http.StatusUnauthorized
		case errors.Is(err, authz.ErrForbidden):
			status = http.StatusForbidden
		case errors.Is(err, authz.ErrHidden):
			status = http.StatusNotFound
		}
		if status != 0 {
			s.record(c, authz.AuditEvent{Action: AuditAdminDenied, Details: details(map[string]any{
				"status": status, "method": r.Method, "path": clipName(r.URL.Path), "reason": err.Error(),
			})})
		}
		return err
	}
}

// reply returns a function writing a service method's result as JSON with
// status, or its error.
func reply(c *echo.Context, status int) func(v any, err error) error {
	return func(v any, err error) error {
		if err != nil {
			return err
		}
		return writeAdminJSON(c, status, v)
	}
}

// noContent answers 204 to a deletion that succeeded.
func noContent(c *echo.Context, err error) error {
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func writeAdminJSON(c *echo.Context, status int, v any) error {
	return writeEncoded(c, status, echo.MIMEApplicationJSON, v)
}
