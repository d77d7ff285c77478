package taxii

import (
	"context"
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v5"
)

// openAPIDocument is the OpenAPI 3.1 description of the administration
// API, served at /admin/openapi.json. TestOpenAPIRoutes checks it against
// the routes, and the responses of the API against its schemas.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPI serves the description to admins and org-admins.
func (s *Server) openAPI(c *echo.Context, ctx context.Context) error {
	if err := s.admin.CheckManager(ctx); err != nil {
		return err
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPIDocument)
}
