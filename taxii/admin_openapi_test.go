package taxii

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections/mirror"
	"github.com/taxiid/taxiid/collections/sqlite"
	"github.com/taxiid/taxiid/collections/webhook"
)

// noAccess is the authorizer of a server whose TAXII routes do not matter.
type noAccess struct{}

func (noAccess) CanRead(context.Context, string, string) bool  { return false }
func (noAccess) CanWrite(context.Context, string, string) bool { return false }
func (noAccess) ReadConditions(context.Context, string, string) (authz.Conditions, bool) {
	return authz.Conditions{}, false
}

// TestOpenAPIRoutes: openapi.json is a valid OpenAPI 3.1 document that
// describes exactly the admin routes the server registers, each operation
// with the responses its handler can give.
func TestOpenAPIRoutes(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "taxiid.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	admin, err := authz.NewAdmin(authz.AdminConfig{Store: store, Collections: store})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(ctx, Config{Store: store, Authorizer: noAccess{}, Admin: admin, Grants: store,
		Webhooks: &webhook.Service{Store: store}, Sources: mirror.NewService(store, store), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}

	doc, err := openapi3.NewLoader().LoadFromData(openAPIDocument)
	if err != nil {
		t.Fatalf("openapi.json does not load: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi = %q; want 3.1.x", doc.OpenAPI)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("openapi.json is not valid: %v", err)
	}

	// Routes as the router has them: /admin/users/:user -> /admin/users/{user}.
	param := regexp.MustCompile(`:(\w+)`)
	var routes []string
	for _, r := range srv.ops.Router().Routes() {
		if !strings.HasPrefix(r.Path, "/admin/") || r.Method == http.MethodHead {
			continue // HEAD is answered like GET, as everywhere in taxiid
		}
		routes = append(routes, r.Method+" "+param.ReplaceAllString(r.Path, "{$1}"))
	}
	var described []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			described = append(described, method+" "+path)
			if op.OperationID == "" || op.Summary == "" {
				t.Errorf("%s %s: no operationId or summary", method, path)
			}
			// Every operation answers a refused sign-in and a requester
			// over its rate limit; those with a body also its refusals.
			for _, code := range []string{"401", "429"} {
				if op.Responses.Value(code) == nil {
					t.Errorf("%s %s: no %s response", method, path, code)
				}
			}
			if op.RequestBody != nil {
				for _, code := range []string{"400", "413", "415"} {
					if op.Responses.Value(code) == nil {
						t.Errorf("%s %s has a body but no %s response", method, path, code)
					}
				}
			}
		}
	}
	slices.Sort(routes)
	slices.Sort(described)
	if diff := cmp.Diff(routes, described); diff != "" {
		t.Errorf("admin routes (-registered +described in openapi.json):\n%s", diff)
	}

	// Every $ref resolves (the loader resolved them) and every schema is
	// used: an unused one is a sign of drift.
	for name := range doc.Components.Schemas {
		if !strings.Contains(string(openAPIDocument), `"#/components/schemas/`+name+`"`) {
			t.Errorf("schema %s is not used", name)
		}
	}
}
