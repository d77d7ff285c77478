package webhook_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/taxiid/taxiid/collections/webhook"
)

// names is a resolver of fixed answers: what a hostile DNS server could
// answer, which a real resolver cannot be made to on demand.
type names map[string][]netip.Addr

func (n names) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := n[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

// TestGuardRefuses: subscription URLs that would reach the hub's own
// network, or go unencrypted, are refused unless their host is allowed.
func TestGuardRefuses(t *testing.T) {
	g := &webhook.Guard{
		AllowHosts: []string{"hooks.internal", "10.9.9.9:8443"},
		Resolver: names{
			"rebind.example":  addrs("127.0.0.1"),
			"mixed.example":   addrs("93.184.215.14", "10.0.0.1"),
			"public.example":  addrs("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"),
			"hooks.internal":  addrs("10.1.1.1"),
			"mapped.example":  addrs("::ffff:127.0.0.1"),
			"v6local.example": addrs("fd12:3456::1"),
		},
	}
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://public.example/hook", true},
		{"https://93.184.215.14/hook", true},
		{"https://127.0.0.1/hook", false},
		{"https://127.8.9.10/hook", false},
		{"https://10.1.2.3/hook", false},
		{"https://172.16.0.1/hook", false},
		{"https://192.168.1.1/hook", false},
		{"https://169.254.169.254/latest/meta-data", false},
		{"https://100.64.0.1/hook", false},
		{"https://0.0.0.0/hook", false},
		{"https://224.0.0.1/hook", false},
		{"https://[::1]/hook", false},
		{"https://[::]/hook", false},
		{"https://[fc00::1]/hook", false},
		{"https://[fe80::1]/hook", false},
		{"https://[ff02::1]/hook", false},
		{"https://rebind.example/hook", false},
		{"https://mapped.example/hook", false},
		{"https://v6local.example/hook", false},
		{"https://mixed.example/hook", false},
		{"https://unknown.example/hook", false},
		{"http://public.example/hook", false},
		{"ftp://public.example/hook", false},
		{"https://user:pw@public.example/hook", false},
		{"/relative", false},
		{"https://hooks.internal/hook", true},  // allowed host: private address
		{"http://hooks.internal/hook", true},   // allowed host: plain HTTP
		{"https://10.9.9.9:8443/hook", true},   // allowed host and port
		{"https://10.9.9.9:9443/hook", false},  // another port of it
		{"https://HOOKS.internal:444/x", true}, // hosts compare without case
	} {
		err := g.CheckURL(context.Background(), tc.url)
		if tc.ok && err != nil {
			t.Errorf("CheckURL(%s): %v, want accepted", tc.url, err)
		}
		if !tc.ok && !errors.Is(err, webhook.ErrURL) {
			t.Errorf("CheckURL(%s): %v, want ErrURL", tc.url, err)
		}
	}
}

// TestGuardDials: the client checks the address it connects to, so that a
// name that resolves to an internal address after the subscription was
// checked is still refused; it follows no redirect.
func TestGuardDials(t *testing.T) {
	hits := 0
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	opts := webhook.ClientOptions{Timeout: 2 * time.Second, RootCAs: pool}

	refused := (&webhook.Guard{}).Client(opts)
	if resp, err := refused.Get(srv.URL); !errors.Is(err, webhook.ErrURL) {
		if resp != nil {
			resp.Body.Close()
		}
		t.Fatalf("GET of a loopback receiver: %v, want ErrURL", err)
	}
	if hits != 0 {
		t.Fatalf("the receiver was reached %d times", hits)
	}

	allowed := (&webhook.Guard{AllowHosts: []string{srv.Listener.Addr().String()}}).Client(opts)
	resp, err := allowed.Get(srv.URL + "/redirect")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || hits != 1 {
		t.Errorf("redirect: status %d after %d requests, want 302 after 1 (not followed)", resp.StatusCode, hits)
	}
}
