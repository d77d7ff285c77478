package taxii

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// sharingOf returns what the requester, who may read col, is served under:
// the conditions of its most specific read grant (Authorizer.ReadConditions).
// Admins read without conditions; writers are not conditioned.
func (s *Server) sharingOf(c *echo.Context, endpoint string, col collections.Collection) (sharing, error) {
	sh := sharing{hub: s.hub}
	if requester(c).IsAdmin() {
		return sh, nil
	}
	cond, ok := s.authz.ReadConditions(c.Request().Context(), col.APIRoot, col.ID)
	if !ok {
		// The read grant went away between the two questions: refuse as
		// readableCollection would have.
		return sh, s.deny(c, endpoint, col.APIRoot, col.ID, "no read grant",
			errorf(http.StatusForbidden, "you may not read collection %q", col.ID))
	}
	sh.Conditions = cond
	return sh, nil
}

// restrict bounds q to what sh lets the requester see: versions at most
// its TLP ceiling, added at least its embargo ago. The store answers both
// from its indexes, so pages stay full and more, next and the
// X-TAXII-Date-Added-* headers follow from its answer alone.
func (sh sharing) restrict(q *collections.Query, now time.Time) {
	q.MaxTLP = sh.MaxTLP
	if sh.Embargo > 0 {
		q.AddedUntil = now.Add(-sh.Embargo)
	}
}

// validIdentity reports whether id is a STIX identity id.
func validIdentity(id string) bool {
	u, ok := strings.CutPrefix(id, "identity--")
	return ok && stix.IsUUID(u)
}
