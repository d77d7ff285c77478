package mirror_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/collections/mirror"
)

// envelope answers a page of objects as a TAXII server would.
func envelope(w http.ResponseWriter, last string, body string) {
	w.Header().Set("Content-Type", "application/taxii+json;version=2.1")
	w.Header().Set("X-TAXII-Date-Added-First", last)
	w.Header().Set("X-TAXII-Date-Added-Last", last)
	fmt.Fprint(w, body)
}

func indicatorJSON(t *testing.T) (string, string) {
	t.Helper()
	id := "indicator--" + newUUID()
	b, err := json.Marshal(indicator(id, 0))
	must(t, err)
	return id, string(b)
}

// TestMirrorRemoteFailures: what a remote does wrong is a failure of the
// pull, recorded as the source's last error, and stores nothing.
func TestMirrorRemoteFailures(t *testing.T) {
	_, obj := indicatorJSON(t)
	tests := []struct {
		name    string
		limits  mirror.Limits
		handler http.HandlerFunc
		want    string
	}{
		{"refused credentials", mirror.Limits{}, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/taxii+json;version=2.1")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"title":"Unauthorized","description":"this request needs valid credentials"}`)
		}, "remote answered 401: Unauthorized: this request needs valid credentials"},
		{"a page over the byte bound", mirror.Limits{PageBytes: 100}, func(w http.ResponseWriter, r *http.Request) {
			envelope(w, "2026-01-01T00:00:00Z", `{"objects":[`+obj+`]}`)
		}, "larger than 100 bytes"},
		{"more objects than asked", mirror.Limits{PageObjects: 1}, func(w http.ResponseWriter, r *http.Request) {
			envelope(w, "2026-01-01T00:00:00Z", `{"objects":[`+obj+`,`+obj+`]}`)
		}, "2 objects in a page, more than the limit 1"},
		{"no date_added header", mirror.Limits{}, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/taxii+json;version=2.1")
			fmt.Fprint(w, `{"objects":[`+obj+`]}`)
		}, "X-TAXII-Date-Added-Last"},
		{"not an envelope", mirror.Limits{}, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<html></html>`)
		}, "not a TAXII envelope"},
		{"a redirect", mirror.Limits{}, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://127.0.0.1:9/elsewhere", http.StatusFound)
		}, "redirect"},
		{"too slow", mirror.Limits{RequestTimeout: 200 * time.Millisecond}, func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(time.Second)
			envelope(w, "2026-01-01T00:00:00Z", `{"objects":[`+obj+`]}`)
		}, "Client.Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			hs := httptest.NewServer(tt.handler)
			defer hs.Close()
			a := openLocal(t, filepath.Join(t.TempDir(), "local.db"), "a")
			a.puller.Limits = tt.limits
			_, err := a.svc.CreateSource(ctx, mirror.SourceInput{Name: "s", URL: hs.URL + "/api1/collections/c/",
				APIRoot: "api1", Collection: localColl})
			must(t, err)
			if _, err := a.puller.Pull(ctx, "s"); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("pull: %v, want an error with %q", err, tt.want)
			}
			st, err := a.store.SourceState(ctx, "s")
			must(t, err)
			if !strings.Contains(st.LastError, tt.want) || st.LastErrorAt.IsZero() || st.Counters != (mirror.Counters{}) {
				t.Errorf("state %+v", st)
			}
			if got := versions(t, a.store, "api1", localColl); len(got) != 0 {
				t.Errorf("stored %v", got)
			}
		})
	}
}

// TestMirrorNextRefused: when the remote no longer takes the next token of
// a walk (it expired, or the remote's key changed), the pull starts a new
// walk from the cursor, just before the last page's date_added, and misses
// nothing.
func TestMirrorNextRefused(t *testing.T) {
	ctx := context.Background()
	id1, o1 := indicatorJSON(t)
	id2, o2 := indicatorJSON(t)
	var mu sync.Mutex
	var asked []string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mu.Lock()
		asked = append(asked, "after="+q.Get("added_after")+" next="+q.Get("next"))
		mu.Unlock()
		switch {
		case q.Get("next") != "":
			w.Header().Set("Content-Type", "application/taxii+json;version=2.1")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"title":"Bad Request","description":"next is not a token issued by this server"}`)
		case q.Get("added_after") == "":
			envelope(w, "2026-01-01T00:00:01.5Z", `{"more":true,"next":"tok","objects":[`+o1+`]}`)
		default:
			envelope(w, "2026-01-01T00:00:02Z", `{"objects":[`+o1+`,`+o2+`]}`)
		}
	}))
	defer hs.Close()
	a := openLocal(t, filepath.Join(t.TempDir(), "local.db"), "a")
	_, err := a.svc.CreateSource(ctx, mirror.SourceInput{Name: "s", URL: hs.URL + "/api1/collections/c/", APIRoot: "api1", Collection: localColl})
	must(t, err)
	if _, err := a.puller.Pull(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	want := []string{"after= next=", "after= next=tok", "after=2026-01-01T00:00:01.499000Z next="}
	if diff := cmp.Diff(want, asked); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	got := versions(t, a.store, "api1", localColl)
	if len(got) != 2 || !strings.Contains(strings.Join(got, " "), id1) || !strings.Contains(strings.Join(got, " "), id2) {
		t.Errorf("stored %v", got)
	}
	st, err := a.store.SourceState(ctx, "s")
	must(t, err)
	if st.Cursor != (mirror.Cursor{After: "2026-01-01T00:00:02Z"}) || st.Counters.Added != 2 || st.Counters.Unchanged != 1 {
		t.Errorf("state %+v", st)
	}
}

// writePEM writes a PEM block to a new file and returns its path.
func writePEM(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	must(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
	return path
}

// TestMirrorTLS: an https source is verified against the system's CAs or
// the source's CA file, and presents the source's client certificate.
func TestMirrorTLS(t *testing.T) {
	ctx := context.Background()
	_, obj := indicatorJSON(t)
	// A client certificate, self-signed: the remote trusts exactly it.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "mirror"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	certFile, keyFile := writePEM(t, "client.pem", "CERTIFICATE", der), writePEM(t, "client.key", "EC PRIVATE KEY", keyDER)
	clientCert, err := x509.ParseCertificate(der)
	must(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(clientCert)

	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		envelope(w, "2026-01-01T00:00:00Z", `{"objects":[`+obj+`]}`)
	}))
	hs.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	hs.StartTLS()
	defer hs.Close()
	caFile := writePEM(t, "ca.pem", "CERTIFICATE", hs.Certificate().Raw)

	a := openLocal(t, filepath.Join(t.TempDir(), "local.db"), "a")
	url := hs.URL + "/api1/collections/c/"
	for _, in := range []mirror.SourceInput{
		{Name: "unverified", URL: url},
		{Name: "nocert", URL: url, CAFile: caFile},
		{Name: "good", URL: url, CAFile: caFile, CertFile: certFile, KeyFile: keyFile},
	} {
		in.APIRoot, in.Collection = "api1", localColl
		_, err := a.svc.CreateSource(ctx, in)
		must(t, err)
	}
	if _, err := a.puller.Pull(ctx, "unverified"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("pull from a server no CA vouches for: %v", err)
	}
	if _, err := a.puller.Pull(ctx, "nocert"); err == nil {
		t.Error("pull without the client certificate the remote requires succeeded")
	}
	if _, err := a.puller.Pull(ctx, "good"); err != nil {
		t.Fatalf("pull with the CA file and client certificate: %v", err)
	}
	if got := versions(t, a.store, "api1", localColl); len(got) != 1 {
		t.Errorf("stored %v", got)
	}
	// Plain http goes only to loopback unless allowed.
	_, err = a.svc.CreateSource(ctx, mirror.SourceInput{Name: "plain", URL: "http://partner.example/api1/collections/c/",
		APIRoot: "api1", Collection: localColl})
	if err == nil {
		t.Error("a plain http source on another host was accepted")
	}
}

// TestSourceByDiscovery: a source named by the remote's discovery URL and
// a collection id gets the collection of the default API root the
// discovery resource names.
func TestSourceByDiscovery(t *testing.T) {
	ctx := context.Background()
	b := startRemote(t)
	a := openLocal(t, filepath.Join(t.TempDir(), "local.db"), "a")
	v, err := a.svc.CreateSource(ctx, mirror.SourceInput{Name: "d", DiscoveryURL: "http://" + b.addr + "/taxii2/",
		CollectionID: remoteColl, Token: b.reader, APIRoot: "api1", Collection: localColl})
	must(t, err)
	if v.URL != b.collectionURL() {
		t.Errorf("url %s, want %s", v.URL, b.collectionURL())
	}
	// Without credentials the discovery resource is refused: nothing is
	// created.
	if _, err := a.svc.CreateSource(ctx, mirror.SourceInput{Name: "e", DiscoveryURL: "http://" + b.addr + "/taxii2/",
		CollectionID: remoteColl, APIRoot: "api1", Collection: localColl}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("create without credentials: %v", err)
	}
	if _, err := a.store.Source(ctx, "e"); err == nil {
		t.Error("a source whose discovery failed was created")
	}
}
