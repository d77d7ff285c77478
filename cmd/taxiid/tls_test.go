package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func newSerial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// issued is a certificate and its key, as PEM and as what a TLS client
// presents.
type issued struct {
	cert            *x509.Certificate
	certPEM, keyPEM []byte
	tls             tls.Certificate
}

// issue signs a certificate for tmpl's names, valid from an hour ago for
// a day unless tmpl says otherwise.
func (ca *testCA) issue(t *testing.T, tmpl x509.Certificate) issued {
	t.Helper()
	key := newKey(t)
	tmpl.SerialNumber = newSerial(t)
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	is := issued{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
	if is.cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	if is.tls, err = tls.X509KeyPair(is.certPEM, is.keyPEM); err != nil {
		t.Fatal(err)
	}
	return is
}

// serverCert is a certificate for the loopback address the tests listen
// on.
func (ca *testCA) serverCert(t *testing.T) issued {
	return ca.issue(t, x509.Certificate{
		Subject:     pkix.Name{CommonName: "taxiid test server"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
}

func (ca *testCA) clientCert(t *testing.T, cn string) issued {
	return ca.issue(t, x509.Certificate{
		Subject:     pkix.Name{CommonName: cn, Organization: []string{"Partner A"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsFiles writes a server certificate and its key in dir and returns the
// serve flags that name them.
func tlsFiles(t *testing.T, dir string, srv issued) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	writeFile(t, certFile, srv.certPEM)
	writeFile(t, keyFile, srv.keyPEM)
	return certFile, keyFile
}

// dialTLS opens a TLS connection to addr with cfg (RootCAs, ServerName and
// a timeout filled in) and returns it or the handshake's error. (In TLS 1.3
// the client's side of the handshake ends before the server has checked
// its certificate: a refusal shows up at the first request.)
func dialTLS(t *testing.T, addr string, ca *testCA, cfg *tls.Config) (*tls.Conn, error) {
	t.Helper()
	cfg = cfg.Clone()
	cfg.RootCAs = ca.pool()
	cfg.ServerName = "127.0.0.1"
	if cfg.NextProtos == nil {
		cfg.NextProtos = []string{"http/1.1"}
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return c, nil
}

// request sends GET path on c with the Authorization header auth ("":
// none) and returns the response status, or the error of a connection the
// server broke off.
func request(c *tls.Conn, r *bufio.Reader, path, auth string) (int, error) {
	status, _, err := requestBody(c, r, path, auth)
	return status, err
}

// requestBody is request that also returns the response body.
func requestBody(c *tls.Conn, r *bufio.Reader, path, auth string) (int, []byte, error) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	accept := "application/taxii+json;version=2.1"
	if strings.HasPrefix(path, "/admin/") {
		accept = "application/json"
	}
	head := "GET " + path + " HTTP/1.1\r\nHost: taxiid\r\nAccept: " + accept + "\r\n"
	if auth != "" {
		head += "Authorization: " + auth + "\r\n"
	}
	if _, err := io.WriteString(c, head+"\r\n"); err != nil {
		return 0, nil, err
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, body, nil
}

// tlsGet sends GET path, signed in as the first admin, on a TLS
// connection, and returns the status.
func tlsGet(t *testing.T, c *tls.Conn, path string) int {
	t.Helper()
	status, err := request(c, bufio.NewReader(c), path, basicHeader(adminUser, testAdminPassword))
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return status
}

func hostOf(base string) string {
	return strings.TrimPrefix(strings.TrimPrefix(base, "https://"), "http://")
}

// TestTLSVersionsAndSuites connects with clients of several TLS versions
// and TLS 1.2 cipher suites: TLS 1.1 and suites without forward secrecy
// or AEAD are refused at the handshake, TLS 1.2 with ECDHE and AES-GCM or
// ChaCha20-Poly1305 is served, and a client that offers TLS 1.3 gets it.
func TestTLSVersionsAndSuites(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "taxiid test CA")
	certFile, keyFile := tlsFiles(t, dir, ca.serverCert(t))
	_, base, _ := start(t, dir, "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("listening at %s; want https", base)
	}
	tls12 := func(suite uint16) *tls.Config {
		return &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{suite}}
	}
	tests := []struct {
		name        string
		cfg         *tls.Config
		wantVersion uint16 // 0: refused
	}{
		{"TLS 1.1", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, 0},
		{"TLS 1.2 ECDHE AES-CBC", tls12(tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA), 0},
		{"TLS 1.2 ECDHE AES-CBC-SHA256", tls12(tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256), 0},
		{"TLS 1.2 ECDHE AES-128-GCM", tls12(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), tls.VersionTLS12},
		{"TLS 1.2 ECDHE AES-256-GCM", tls12(tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384), tls.VersionTLS12},
		{"TLS 1.2 ECDHE ChaCha20-Poly1305", tls12(tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256), tls.VersionTLS12},
		{"TLS 1.2 or 1.3", &tls.Config{MinVersion: tls.VersionTLS12}, tls.VersionTLS13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := dialTLS(t, hostOf(base), ca, tt.cfg)
			if tt.wantVersion == 0 {
				if err == nil {
					t.Fatalf("handshake succeeded with %s; want it refused", tls.VersionName(c.ConnectionState().Version))
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if got := c.ConnectionState().Version; got != tt.wantVersion {
				t.Errorf("version %s; want %s", tls.VersionName(got), tls.VersionName(tt.wantVersion))
			}
			if status := tlsGet(t, c, "/taxii2/"); status != 200 {
				t.Errorf("GET /taxii2/: %d; want 200", status)
			}
		})
	}
}

// TestTLSHTTP2 talks HTTP/2 to the server, as clients that offer it get
// it: discovery, then a push and a read of what was pushed, so that the
// transfer deadlines of the TAXII handlers work on HTTP/2 streams too.
func TestTLSHTTP2(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "taxiid test CA")
	certFile, keyFile := tlsFiles(t, dir, ca.serverCert(t))
	_, base, _ := start(t, dir, "--tls-cert", certFile, "--tls-key", keyFile)
	h2 := &http.Client{Timeout: 10 * time.Second, Transport: asAdmin{&http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: ca.pool()},
		ForceAttemptHTTP2: true,
	}}}
	do := func(method, path, body string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "application/taxii+json;version=2.1")
		if body != "" {
			req.Header.Set("Content-Type", "application/taxii+json;version=2.1")
		}
		resp, err := h2.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.ProtoMajor != 2 {
			t.Errorf("%s %s answered over %s; want HTTP/2", method, path, resp.Proto)
		}
		return resp, b
	}

	if resp, b := do("GET", "/taxii2/", ""); resp.StatusCode != 200 {
		t.Fatalf("discovery: %d %s", resp.StatusCode, b)
	}
	const id = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
	envelope := `{"objects":[{"type":"indicator","spec_version":"2.1","id":"` + id + `",` +
		`"created":"2023-03-01T10:00:00.000Z","modified":"2023-03-01T10:00:00.000Z","pattern":"[file:name = 'a']",` +
		`"pattern_type":"stix","valid_from":"2023-03-01T10:00:00Z"}]}`
	objects := "/api1/collections/" + defaultCollectionID + "/objects/"
	if resp, b := do("POST", objects, envelope); resp.StatusCode != 202 || !strings.Contains(string(b), `"status":"complete"`) {
		t.Fatalf("push: %d %s", resp.StatusCode, b)
	}
	resp, b := do("GET", objects, "")
	if resp.StatusCode != 200 {
		t.Fatalf("objects: %d %s", resp.StatusCode, b)
	}
	var page struct {
		Objects []struct {
			ID string `json:"id"`
		} `json:"objects"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, o := range page.Objects {
		ids = append(ids, o.ID)
	}
	if diff := cmp.Diff([]string{id}, ids); diff != "" {
		t.Errorf("objects read back over HTTP/2 (-want +got):\n%s", diff)
	}
}

// TestTLSClientCertificates serves with a client CA: a client may come
// without a certificate (and sign in with a password); a certificate of
// the CA whose names are bound to a user (with taxiid admin users certs)
// stands for that user, alone or with that user's credentials, and is
// refused with another user's; one of the CA bound to nobody is refused
// alone, with its names in the log, and leaves the decision to credentials
// sent with it; certificates of another CA, expired ones and ones not made
// for client authentication fail the handshake. The client CA file is
// reloaded like the certificate, and a binding holds for the CA it was
// made for only.
func TestTLSClientCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "taxiid test CA")
	clientCA := newTestCA(t, "partners CA")
	stranger := newTestCA(t, "another CA")
	certFile, keyFile := tlsFiles(t, dir, ca.serverCert(t))
	caFile := filepath.Join(dir, "clients.pem")
	writeFile(t, caFile, clientCA.pem)
	cmd, base, log := start(t, dir, "--tls-cert", certFile, "--tls-key", keyFile, "--tls-client-ca", caFile)
	admin := basicHeader(adminUser, testAdminPassword)

	// alice and bob, each with a token; alice's certificate bound to her
	// by a taxiid admin process on the server's store.
	data := filepath.Join(dir, "taxiid-data")
	cli := func(args ...string) map[string]any {
		t.Helper()
		out, errOut, code := adminRun(t, data, "", args...)
		if code != 0 {
			t.Fatalf("taxiid admin %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("taxiid admin %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return v
	}
	cli("orgs", "create", "--name", "Partner A")
	tokens := map[string]string{}
	for _, name := range []string{"alice", "bob"} {
		cli("users", "create", "--name", name, "--org", "Partner A")
		tokens[name], _ = cli("tokens", "create", name, "--name", "ci")["secret"].(string)
	}
	alice := clientCA.clientCert(t, "alice")
	aliceFile := filepath.Join(dir, "alice.pem")
	writeFile(t, aliceFile, alice.certPEM)
	cli("users", "certs", "add", "alice", "--cert", aliceFile, "--client-ca", caFile)

	// try connects with cert (nil: none) and sends GET /admin/me (who the
	// server takes the client for) with the Authorization header auth.
	try := func(cert *issued, auth string) (int, string, error) {
		cfg := &tls.Config{}
		if cert != nil {
			// Sent whatever CAs the server names: Go's client would
			// hold back a certificate of another CA.
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				return &cert.tls, nil
			}
		}
		c, err := dialTLS(t, hostOf(base), ca, cfg)
		if err != nil {
			return 0, "", err
		}
		status, body, err := requestBody(c, bufio.NewReader(c), "/admin/me", auth)
		if err != nil {
			return 0, "", err
		}
		var me struct{ Name string }
		json.Unmarshal(body, &me)
		return status, me.Name, nil
	}
	// The binding, made by another process, is seen within a second.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if status, _, err := try(&alice, ""); err == nil && status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice's certificate not accepted 5 s after its binding:\n%s", log)
		}
	}

	expired := clientCA.issue(t, x509.Certificate{
		Subject:     pkix.Name{CommonName: "alice", Organization: []string{"Partner A"}},
		NotBefore:   time.Now().Add(-48 * time.Hour),
		NotAfter:    time.Now().Add(-24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	serverOnly := clientCA.issue(t, x509.Certificate{
		Subject:     pkix.Name{CommonName: "alice", Organization: []string{"Partner A"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	carol := clientCA.clientCert(t, "carol")
	bearer := func(name string) string { return "Bearer " + tokens[name] }
	tests := []struct {
		name        string
		cert        *issued
		auth        string
		wantRefused bool // at the handshake
		wantStatus  int
		wantUser    string // of a 200
		wantLog     string // appears in the log (a refusal's reason)
	}{
		{name: "no certificate, password", auth: admin, wantStatus: 200, wantUser: adminUser},
		{name: "no certificate, no credentials", wantStatus: 401},
		{name: "alice's certificate alone", cert: &alice, wantStatus: 200, wantUser: "alice"},
		{name: "alice's certificate and token", cert: &alice, auth: bearer("alice"), wantStatus: 200, wantUser: "alice"},
		{name: "alice's certificate and bob's token", cert: &alice, auth: bearer("bob"), wantStatus: 401,
			wantLog: "certificate and credentials stand for different users"},
		{name: "alice's certificate and the admin's password", cert: &alice, auth: admin, wantStatus: 401,
			wantLog: `user \"admin\"): certificate and credentials stand for different users`},
		{name: "certificate of an unknown subject alone", cert: &carol, wantStatus: 401,
			wantLog: `certificate maps to no user; certificate identities: \"subject:CN=carol,O=Partner A\"; client CA key sha256: ` +
				authz.KeyFingerprint(clientCA.cert)},
		{name: "certificate of an unknown subject and bob's token", cert: &carol, auth: bearer("bob"), wantStatus: 200, wantUser: "bob"},
		{name: "certificate of another CA", cert: ptr(stranger.clientCert(t, "alice")), auth: admin, wantRefused: true},
		{name: "expired certificate of the CA", cert: &expired, auth: admin, wantRefused: true},
		{name: "certificate of the CA for servers only", cert: &serverOnly, auth: admin, wantRefused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, user, err := try(tt.cert, tt.auth)
			if tt.wantRefused {
				if err == nil {
					t.Fatalf("answered %d; want the certificate refused at the handshake", status)
				}
				if !strings.Contains(err.Error(), "remote error: tls:") {
					t.Errorf("error %v; want the server's alert", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.wantStatus || user != tt.wantUser {
				t.Errorf("GET /admin/me: %d as %q; want %d as %q", status, user, tt.wantStatus, tt.wantUser)
			}
			// The log is read from the process as it comes.
			if tt.wantLog != "" && !log.waitFor(tt.wantLog, 2*time.Second) {
				t.Errorf("the log does not say %s:\n%s", tt.wantLog, log)
			}
		})
	}

	// The client CA file is reloaded with the certificate: once it names
	// another CA, that CA's certificates pass and the first one's fail. A
	// certificate of the new CA with alice's names is not alice's: her
	// names are bound for the first CA only.
	writeFile(t, caFile, stranger.pem)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !log.waitFor(`TLS certificate reloaded" reason=SIGHUP`, 5*time.Second) {
		t.Fatalf("no reload on SIGHUP:\n%s", log)
	}
	impostor := stranger.clientCert(t, "alice")
	if status, user, err := try(&impostor, admin); err != nil || status != 200 || user != adminUser {
		t.Errorf("certificate of the new client CA with the admin's password: %d as %q, %v; want 200 as admin", status, user, err)
	}
	if status, user, err := try(&impostor, ""); err != nil || status != 401 {
		t.Errorf("alice's names in a certificate of the new client CA: %d as %q, %v; want 401", status, user, err)
	}
	if status, _, err := try(&alice, admin); err == nil {
		t.Errorf("certificate of the former client CA: answered %d; want it refused at the handshake", status)
	}
}

// TestTLSCertificateReload replaces the certificate and key files of a
// running server: new connections get the new certificate while a
// connection opened before goes on with the old one; a new pair that does
// not load, or has expired, is refused with an error in the log and the
// certificate in use stays; SIGHUP reloads at once (and shortens the
// test).
func TestTLSCertificateReload(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "taxiid test CA")
	first := ca.serverCert(t)
	certFile, keyFile := tlsFiles(t, dir, first)
	cmd, base, log := start(t, dir, "--tls-cert", certFile, "--tls-key", keyFile)
	addr := hostOf(base)

	// servedSerial is the serial of the certificate a new connection gets.
	servedSerial := func() string {
		c, err := dialTLS(t, addr, ca, &tls.Config{})
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	waitServed := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			got := servedSerial()
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("serial served %s; want %s\n%s", got, want, log)
			}
		}
	}

	old, err := dialTLS(t, addr, ca, &tls.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if status := tlsGet(t, old, "/taxii2/"); status != 200 {
		t.Fatalf("GET: %d", status)
	}

	second := ca.serverCert(t)
	writeFile(t, keyFile, second.keyPEM)
	writeFile(t, certFile, second.certPEM)
	waitServed(second.cert.SerialNumber.String())
	if !log.waitFor(`TLS certificate reloaded" reason="files changed"`, time.Second) {
		t.Errorf("no reload in the log:\n%s", log)
	}
	if status := tlsGet(t, old, "/api1/collections/"); status != 200 {
		t.Errorf("the connection opened before the reload: %d; want 200", status)
	}
	if got := old.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(first.cert.SerialNumber) != 0 {
		t.Errorf("the connection opened before the reload has serial %s; want %s", got, first.cert.SerialNumber)
	}

	third := ca.serverCert(t)
	expired := ca.issue(t, x509.Certificate{
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   time.Now().Add(-48 * time.Hour),
		NotAfter:    time.Now().Add(-24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	bad := []struct {
		name          string
		cert, key     []byte
		hup           bool // signal the change, else let the server find it
		wantLogDetail string
	}{
		{"key of another certificate", third.certPEM, second.keyPEM, false, "private key does not match public key"},
		{"expired certificate", expired.certPEM, expired.keyPEM, true, "expired on"},
		{"not PEM", []byte("not a certificate"), third.keyPEM, true, "failed to find any PEM data"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			refusals := strings.Count(log.String(), "TLS certificate not reloaded")
			writeFile(t, keyFile, b.key)
			writeFile(t, certFile, b.cert)
			if b.hup {
				if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
			}
			for deadline := time.Now().Add(10 * time.Second); strings.Count(log.String(), "TLS certificate not reloaded") == refusals; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("no refusal in the log:\n%s", log)
				}
			}
			if !strings.Contains(log.String(), b.wantLogDetail) {
				t.Errorf("the log does not say %q:\n%s", b.wantLogDetail, log)
			}
			if got, want := servedSerial(), second.cert.SerialNumber.String(); got != want {
				t.Errorf("serial served %s; want %s, the certificate in use", got, want)
			}
		})
	}

	fourth := ca.serverCert(t)
	writeFile(t, keyFile, fourth.keyPEM)
	writeFile(t, certFile, fourth.certPEM)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitServed(fourth.cert.SerialNumber.String())
	if !log.waitFor(`TLS certificate reloaded" reason=SIGHUP`, time.Second) {
		t.Errorf("no reload on SIGHUP in the log:\n%s", log)
	}
}

// TestTLSHandshakeBound holds the one connection a listener allows with
// clients that stall their handshake: other clients are refused with a
// TLS alert until the handshake timer closes the stalled connection, and
// a connection whose handshake went through, resumed or not, is not closed
// by it. The HTTP server here has no timeouts of its own.
func TestTLSHandshakeBound(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "taxiid test CA")
	certFile, keyFile := tlsFiles(t, dir, ca.serverCert(t))
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := newTLSServer(tlsFlags{CertFile: certFile, KeyFile: keyFile}, logger)
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newLimitListener(tcp, 1, 0, logger)
	ln.refusals = tlsRefusals
	const timeout = 300 * time.Millisecond
	hs := &http.Server{
		Handler:  http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go hs.Serve(&tlsListener{Listener: ln, config: s.outer, timeout: timeout})
	t.Cleanup(func() { hs.Close() })
	addr := tcp.Addr().String()

	tests := []struct {
		name  string
		stall func(c net.Conn) // what the stalling client sends
	}{
		{"nothing", func(net.Conn) {}},
		{"part of a ClientHello", func(c net.Conn) { c.Write([]byte{22, 3, 1, 2, 0, 1, 0}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stalled, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer stalled.Close()
			tt.stall(stalled)
			// Its connection taken: anyone else is refused.
			for deadline := time.Now().Add(5 * time.Second); ln.Open() == 0; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the stalled connection was not accepted")
				}
			}
			if _, err := dialTLS(t, addr, ca, &tls.Config{}); err == nil || !strings.Contains(err.Error(), "internal error") {
				t.Errorf("a client over the cap: %v; want the internal_error alert", err)
			}
			// The server closes the stalled connection.
			stalled.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = io.Copy(io.Discard, stalled)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the stalled handshake still holds its connection after 5 s")
			}
			// Its place is free again, and a connection that completes
			// its handshake outlives the timer.
			var c *tls.Conn
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if c, err = dialTLS(t, addr, ca, &tls.Config{}); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no connection after the stalled one closed: %v", err)
				}
			}
			time.Sleep(2 * timeout)
			if status := tlsGet(t, c, "/"); status != 200 {
				t.Errorf("GET after the handshake timeout: %d; want 200", status)
			}
			c.Close()
			waitFree(t, ln)
		})
	}

	// A resumed session skips most of the handshake: its connection must
	// outlive the timer all the same.
	t.Run("resumed session", func(t *testing.T) {
		cfg := &tls.Config{ClientSessionCache: tls.NewLRUClientSessionCache(4)}
		for i, wantResumed := range []bool{false, true} {
			c, err := dialTLS(t, addr, ca, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ConnectionState().DidResume; got != wantResumed {
				t.Fatalf("connection %d resumed: %v; want %v", i+1, got, wantResumed)
			}
			if wantResumed {
				time.Sleep(2 * timeout)
			}
			if status := tlsGet(t, c, "/"); status != 200 { // also takes the session ticket
				t.Errorf("connection %d: GET %d; want 200", i+1, status)
			}
			c.Close()
			waitFree(t, ln)
		}
	})
}

// waitFree waits until ln holds no connection.
func waitFree(t *testing.T, ln *limitListener) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ln.Open() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a closed connection still holds its place")
		}
	}
}

// TestPlainHTTPRule starts taxiid without TLS on a non-loopback address:
// it refuses to start unless insecure-http (flag or environment) allows
// it, and then warns; on loopback it starts without a warning.
func TestPlainHTTPRule(t *testing.T) {
	const warning = "serving plain HTTP on an address other than loopback"
	tests := []struct {
		name        string
		env         []string
		args        []string
		wantRefused bool
		wantWarning bool
	}{
		{name: "all addresses", env: []string{"TAXIID_LISTEN=0.0.0.0:0"}, wantRefused: true},
		{name: "all addresses, flag", env: []string{"TAXIID_LISTEN=0.0.0.0:0"}, args: []string{"--insecure-http"}, wantWarning: true},
		{name: "all addresses, environment", env: []string{"TAXIID_LISTEN=0.0.0.0:0", "TAXIID_INSECURE_HTTP=true"}, wantWarning: true},
		{name: "loopback", env: []string{"TAXIID_LISTEN=127.0.0.1:0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append(processEnv(), tt.env...)
			if tt.wantRefused {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, binary, tt.args...)
				cmd.Dir, cmd.Env = t.TempDir(), env
				out, err := cmd.CombinedOutput()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 1 {
					t.Fatalf("exit: %v; want status 1\n%s", err, out)
				}
				if !strings.Contains(string(out), "listen 0.0.0.0:0 is not a loopback address: serve HTTPS there") {
					t.Errorf("the refusal does not say why:\n%s", out)
				}
				if _, err := os.Stat(filepath.Join(cmd.Dir, "taxiid-data")); err == nil {
					t.Errorf("a store was created before the refusal")
				}
				return
			}
			_, base, log := startEnv(t, t.TempDir(), env, tt.args...)
			if got := strings.Contains(log.String(), warning); got != tt.wantWarning {
				t.Errorf("warning in the log: %v; want %v\n%s", got, tt.wantWarning, log)
			}
			_, port, _ := net.SplitHostPort(hostOf(base))
			if status, _ := statusAs(t, "http://127.0.0.1:"+port, "/taxii2/", basicHeader(adminUser, testAdminPassword)); status != 200 {
				t.Errorf("GET /taxii2/: %d; want 200", status)
			}
		})
	}
}

// TestTLSFlags checks the TLS settings and the plain-HTTP rule as the
// configuration reports them.
func TestTLSFlags(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "taxiid test CA")
	certFile, keyFile := tlsFiles(t, dir, ca.serverCert(t))
	caFile, notPEM := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "not.pem")
	writeFile(t, caFile, ca.pem)
	writeFile(t, notPEM, []byte("nothing here"))
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		want     tlsFlags
		wantErrs []string
	}{
		{
			name: "flags",
			args: []string{"--tls-cert", certFile, "--tls-key", keyFile, "--tls-client-ca", caFile, "--listen", "0.0.0.0:8443"},
			want: tlsFlags{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile},
		},
		{
			name: "environment",
			env: map[string]string{"TAXIID_TLS_CERT": certFile, "TAXIID_TLS_KEY": keyFile, "TAXIID_TLS_CLIENT_CA": caFile,
				"TAXIID_LISTEN": "[::]:8443"},
			want: tlsFlags{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile},
		},
		{name: "loopback IPv6", args: []string{"--listen", "[::1]:8080"}},
		{name: "localhost", args: []string{"--listen", "localhost:8080"}},
		{name: "insecure-http", args: []string{"--listen", ":8080", "--insecure-http"}, want: tlsFlags{InsecureHTTP: true}},
		{name: "insecure-http from the environment", env: map[string]string{"TAXIID_LISTEN": "192.0.2.1:80", "TAXIID_INSECURE_HTTP": "1"},
			want: tlsFlags{InsecureHTTP: true}},
		{name: "flag over environment", args: []string{"--insecure-http=false"}, env: map[string]string{"TAXIID_INSECURE_HTTP": "true"}},
		{name: "all addresses", args: []string{"--listen", ":8080"}, wantErrs: []string{"listen :8080 is not a loopback address"}},
		{name: "a host name", args: []string{"--listen", "taxii.example.org:443"}, wantErrs: []string{"listen taxii.example.org:443 is not a loopback address"}},
		{
			name:     "half a pair",
			args:     []string{"--tls-cert", certFile, "--tls-client-ca", caFile},
			wantErrs: []string{"tls-cert and tls-key go together"},
		},
		{
			name:     "client CA without TLS",
			args:     []string{"--tls-client-ca", caFile},
			wantErrs: []string{"tls-client-ca needs tls-cert and tls-key"},
		},
		{
			name:     "files that do not load",
			args:     []string{"--tls-cert", filepath.Join(dir, "missing.pem"), "--tls-key", keyFile},
			wantErrs: []string{"missing.pem: no such file"},
		},
		{
			name:     "client CA file without certificates",
			args:     []string{"--tls-cert", certFile, "--tls-key", keyFile, "--tls-client-ca", notPEM},
			wantErrs: []string{"tls-client-ca " + notPEM + " holds no PEM certificate"},
		},
		{
			name:     "bad environment",
			env:      map[string]string{"TAXIID_INSECURE_HTTP": "maybe"},
			wantErrs: []string{`TAXIID_INSECURE_HTTP="maybe" is not true or false`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{"TAXIID_DATA": t.TempDir()}
			for k, v := range tt.env {
				vars[k] = v
			}
			cfg, ok := parsedFlags(t, tt.args, env(vars), tt.wantErrs)
			if !ok {
				return
			}
			if diff := cmp.Diff(tt.want, cfg.TLS); diff != "" {
				t.Errorf("TLS settings (-want +got):\n%s", diff)
			}
		})
	}
}
