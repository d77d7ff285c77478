package taxii_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
	"github.com/taxiid/taxiid/taxii"
)

// BenchmarkGetObjectsCeiling measures GET objects pages of 100 for two
// partners of one collection of TAXIID_BENCH_OBJECTS indicators (default
// 100,000), one in ten marked TLP:GREEN and the others TLP:RED: one whose
// read grant has no conditions, and one whose ceiling, TLP:GREEN, hides
// 90% of the collection. Both sign in with a token and walk the
// collection with next tokens, concurrently, as in BenchmarkGetObjects.
//
//	go test ./taxii -run '^$' -bench GetObjectsCeiling -benchtime 3000x
//
// TAXIID_BENCH_ROUNDS runs the pair that many times, alternately.
func BenchmarkGetObjectsCeiling(b *testing.B) {
	servers := loadCeilingServers(b)
	rounds := 1
	if v, err := strconv.Atoi(os.Getenv("TAXIID_BENCH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	for range rounds {
		for _, name := range []string{"ceiling=none", "ceiling=green"} {
			b.Run(name, func(b *testing.B) { benchmarkGetObjects(b, servers[name]) })
		}
	}
}

var (
	ceilingOnce    sync.Once
	ceilingServers map[string]*benchServer
)

// loadCeilingServers fills a store of its own with the marked collection,
// grants read to two organizations, one with a TLP:GREEN ceiling, and
// serves it with access control.
func loadCeilingServers(b *testing.B) map[string]*benchServer {
	ceilingOnce.Do(func() {
		n := 100_000
		if v, err := strconv.Atoi(os.Getenv("TAXIID_BENCH_OBJECTS")); err == nil && v > 0 {
			n = v
		}
		const (
			green2 = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
			red2   = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
			white1 = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
		)
		bs := newBenchServer(b, 0, stix.LevelDefault)
		benchClose = append(benchClose, bs.close)
		ctx := context.Background()
		v := newValidator(b)
		t0 := time.Now()
		for start := 0; start < n; start += 1000 {
			batch := make([]collections.NewObject, 0, 1000)
			for i := start; i < min(start+1000, n); i++ {
				mark := red2
				if i%10 == 0 {
					mark = green2
				}
				raw := bytes.Replace(indicatorJSON(i), []byte(white1), []byte(mark), 1)
				id, _, err := v.Validate(raw, stix.LevelDefault)
				if err != nil {
					b.Fatal(err)
				}
				sh, err := stix.SharingOf(raw, stix.TLPNone)
				if err != nil {
					b.Fatal(err)
				}
				batch = append(batch, collections.NewObject{ID: id.ID, Type: id.Type, SpecVersion: id.SpecVersion, Version: id.Version,
					Raw: raw, TLP: sh.TLP, GranularTLP: sh.GranularTLP, Markings: sh.Markings})
			}
			if _, err := bs.store.AddObjects(ctx, "api1", collID, batch, collections.AddOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("loaded %d objects in %v", n, time.Since(t0))

		store := bs.store
		tokens := map[string]string{}
		for name, cond := range map[string]authz.Conditions{
			"ceiling=none":  {},
			"ceiling=green": {MaxTLP: stix.TLPGreen},
		} {
			org, err := store.CreateOrganization(ctx, authz.Organization{Name: name})
			if err != nil {
				b.Fatal(err)
			}
			u, err := store.CreateUser(ctx, authz.User{Name: "reader of " + name, OrganizationID: org.ID, Role: authz.RoleMember})
			if err != nil {
				b.Fatal(err)
			}
			secret, hash, prefix, err := authz.NewTokenSecret()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := store.CreateToken(ctx, authz.Token{UserID: u.ID, Name: "bench", Hash: hash, Prefix: prefix}); err != nil {
				b.Fatal(err)
			}
			if _, err := store.CreateGrant(ctx, authz.Grant{Subject: authz.OrganizationSubject(org.ID), APIRoot: "api1",
				Collection: collID, Action: authz.ActionRead, Conditions: cond}); err != nil {
				b.Fatal(err)
			}
			tokens[name] = secret
		}
		logger := slog.New(slog.DiscardHandler)
		w := authz.NewWatcher(store, 0, logger)
		az, err := authz.NewAuthorizer(store, w, logger)
		if err != nil {
			b.Fatal(err)
		}
		an, err := authz.NewAuthenticator(authz.AuthenticatorConfig{Store: store, Watcher: w, Log: logger})
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Start(ctx); err != nil {
			b.Fatal(err)
		}
		srv, err := taxii.New(ctx, taxii.Config{Store: store, Authorizer: az, Authenticator: an, Logger: logger,
			PageSize: 100, MaxPageSize: 1000, Grants: store})
		if err != nil {
			b.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		benchClose = append(benchClose, func() {
			hs.Close()
			w.Close()
			an.Close()
		})
		ceilingServers = map[string]*benchServer{}
		for name, token := range tokens {
			ceilingServers[name] = &benchServer{url: hs.URL, client: bs.client, store: store, authorization: "Bearer " + token}
		}
		// A full page of TLP:GREEN objects, or the figures mean nothing.
		page := ceilingServers["ceiling=green"].get(b, objects+"?limit=100")
		if got := bytes.Count(page, []byte(`"type":"indicator"`)); got != 100 || bytes.Contains(page, []byte(red2)) {
			b.Fatalf("the TLP:GREEN reader's first page has %d indicators (want 100), TLP:RED ones: %v", got, bytes.Contains(page, []byte(red2)))
		}
	})
	return ceilingServers
}
