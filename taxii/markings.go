package taxii

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// markingRecord is one marking definition of a collection as the markings
// endpoint lists it.
type markingRecord struct {
	ID string `json:"id"`
	// TLP is the marking's TLP level; absent for a marking that is not a
	// TLP one.
	TLP string `json:"tlp,omitempty"`
}

// markingsResource answers GET {api-root}/collections/{id}/markings/: the
// marking definitions referenced by the versions the requester may see in
// the collection (within its TLP ceiling, added at least its embargo
// ago), and its TLP ceiling (null: none), so that a client knows what it
// is not shown. A marking referenced only by versions still under embargo
// is not listed: the requester learns nothing of them before it may see
// them. The TAXII 2.1 specification has no such endpoint (the technical
// committee discusses one); it answers like the collection's other
// endpoints, in the TAXII media type.
type markingsResource struct {
	Markings []markingRecord `json:"markings"`
	Ceiling  *string         `json:"ceiling"`
}

func (s *Server) markings(c *echo.Context) error {
	col, sh, err := s.readableCollection(c, endpointMarkings)
	if err != nil {
		return err
	}
	// The bounds of the requester's object queries, the same way.
	var q collections.Query
	sh.restrict(&q, time.Now())
	ms, err := s.store.Markings(c.Request().Context(), col.APIRoot, col.ID, q.MaxTLP, q.AddedUntil)
	if err != nil {
		return err
	}
	res := markingsResource{Markings: make([]markingRecord, 0, len(ms))}
	for _, m := range ms {
		res.Markings = append(res.Markings, markingRecord{ID: m.ID, TLP: m.TLP.String()})
	}
	if sh.MaxTLP != stix.TLPNone {
		ceiling := sh.MaxTLP.String()
		res.Ceiling = &ceiling
	}
	s.recordRead(c, endpointMarkings, col, len(res.Markings))
	return writeJSON(c, http.StatusOK, res)
}
