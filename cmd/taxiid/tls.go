package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// TLS of the server, as TAXII 2.1 section 8.2.2 asks of it: requests over
// HTTPS; TLS 1.2 accepted and TLS 1.3 preferred (Go's server picks the
// highest version both sides speak); no 0-RTT (Go's server never accepts
// early data); and in TLS 1.2 only suites absent from the list of RFC 7540
// Appendix A, which tlsCipherSuites narrows further to ECDHE key exchange
// (forward secrecy) with AEAD ciphers. TLS 1.3 suites are all AEAD with
// forward secrecy and Go does not let them be chosen. Client certificates
// (section 8.3.1) are verified by PKIX against the configured CAs.
//
// Plain HTTP is served on loopback addresses only, unless insecure-http
// says otherwise (a reverse proxy in front terminates TLS).

// tlsFlags are the TLS settings of serve.
type tlsFlags struct {
	CertFile     string // PEM certificate chain, leaf first
	KeyFile      string // PEM private key of the leaf
	ClientCAFile string // PEM certificates of the CAs that sign client certificates
	// InsecureHTTP allows plain HTTP on an address other than loopback.
	InsecureHTTP bool
}

// Tuning of TLS serving.
const (
	// tlsHandshakeTimeout bounds the TLS handshake of a connection, from
	// its accept: a client that stalls it holds a connection slot no
	// longer (the same 10 s a client has to send its request headers).
	tlsHandshakeTimeout = 10 * time.Second
	// certPollInterval is how often the certificate, key and client CA
	// files are looked at (two or three stat calls). A change is loaded
	// once the files have stayed the same for one interval, so that a
	// pair written one file after the other is not loaded half new.
	certPollInterval = time.Second
)

// tlsCipherSuites are the TLS 1.2 suites accepted: ECDHE key exchange,
// AES-GCM or ChaCha20-Poly1305. (Go orders them itself, by what the
// hardware accelerates.)
var tlsCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// register defines the TLS flags on fs, their defaults from the
// environment; it returns the problems of environment values.
func (t *tlsFlags) register(fs *flag.FlagSet, getenv func(string) string) (problems []string) {
	fs.StringVar(&t.CertFile, "tls-cert", getenv("TAXIID_TLS_CERT"), "PEM `file` of the server's certificate chain, leaf first: serve HTTPS, reloading it when the file changes or on SIGHUP (env TAXIID_TLS_CERT)")
	fs.StringVar(&t.KeyFile, "tls-key", getenv("TAXIID_TLS_KEY"), "PEM `file` of the certificate's private key (env TAXIID_TLS_KEY)")
	fs.StringVar(&t.ClientCAFile, "tls-client-ca", getenv("TAXIID_TLS_CLIENT_CA"), "PEM `file` of the CAs client certificates must chain to; a client without a certificate still connects (env TAXIID_TLS_CLIENT_CA)")
	insecure := false
	if v := getenv("TAXIID_INSECURE_HTTP"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("TAXIID_INSECURE_HTTP=%q is not true or false", v))
		}
		insecure = b
	}
	fs.BoolVar(&t.InsecureHTTP, "insecure-http", insecure, "without TLS, serve plain HTTP on an address other than loopback, e.g. behind a reverse proxy that terminates TLS (env TAXIID_INSECURE_HTTP)")
	return problems
}

// enabled reports whether the server speaks TLS.
func (t *tlsFlags) enabled() bool { return t.CertFile != "" && t.KeyFile != "" }

// validate returns the problems of the TLS settings served at listen,
// loading the files to find them.
func (t *tlsFlags) validate(listen string) []string {
	var problems []string
	switch {
	case (t.CertFile == "") != (t.KeyFile == ""):
		problems = append(problems, "tls-cert and tls-key go together: give both or neither")
	case t.enabled():
		if _, err := loadTLSMaterial(*t); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if t.ClientCAFile != "" && t.CertFile == "" {
		problems = append(problems, "tls-client-ca needs tls-cert and tls-key: client certificates are verified only over TLS")
	}
	if t.CertFile == "" && t.KeyFile == "" && !t.InsecureHTTP && !loopbackListen(listen) {
		problems = append(problems, fmt.Sprintf("listen %s is not a loopback address: serve HTTPS there "+
			"(tls-cert and tls-key, or TAXIID_TLS_CERT and TAXIID_TLS_KEY), or, behind a reverse proxy that "+
			"terminates TLS, allow plain HTTP with insecure-http (TAXIID_INSECURE_HTTP=true)", listen))
	}
	return problems
}

// loopbackListen reports whether the listen address is on loopback only:
// "localhost" or a loopback IP address. Any other host name counts as
// reachable from the network. An address that does not parse counts as
// loopback: validate reports it once, as not an address.
func loopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return true
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// isLoopback reports whether a listener's address is a loopback address.
func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.AddrPort().Addr().Unmap().IsLoopback()
}

// listenTLS returns the listener serve serves on, and its URL scheme: ln
// itself for plain HTTP, or ln behind TLS, whose certificate is reloaded
// until ctx ends. It refuses plain HTTP on an address other than loopback
// unless insecure-http allows it, and then warns.
func listenTLS(ctx context.Context, t tlsFlags, ln *limitListener, logger *slog.Logger) (net.Listener, string, error) {
	if !t.enabled() {
		if !isLoopback(ln.Addr()) {
			if !t.InsecureHTTP {
				// validate let the name through as loopback; it was not.
				return nil, "", fmt.Errorf("listening on %s, not a loopback address, without TLS: "+
					"give tls-cert and tls-key, or allow plain HTTP with insecure-http", ln.Addr())
			}
			logger.Warn("serving plain HTTP on an address other than loopback (insecure-http): passwords, "+
				"tokens and intelligence cross the network in the clear unless a proxy in front terminates TLS",
				"addr", ln.Addr().String())
		}
		return ln, "http", nil
	}
	s, err := newTLSServer(t, logger)
	if err != nil {
		return nil, "", err
	}
	// Installed before the server listens, so that a SIGHUP never meets
	// the default action, which ends the process. It stays installed for
	// the life of the process, draining included.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go s.watch(ctx, hup, certPollInterval)
	// A connection over the caps gets a TLS alert, not an HTTP response
	// its client could not read.
	ln.refusals = tlsRefusals
	return &tlsListener{Listener: ln, config: s.outer, timeout: tlsHandshakeTimeout}, "https", nil
}

// tlsMaterial is what the TLS files hold.
type tlsMaterial struct {
	cert      tls.Certificate // with Leaf
	clientCAs *x509.CertPool  // nil without tls-client-ca
	stamp     string          // of the files, taken before they were read
}

// loadTLSMaterial reads the certificate, its key and the client CAs.
func loadTLSMaterial(t tlsFlags) (*tlsMaterial, error) {
	m := &tlsMaterial{stamp: t.stamp()}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls-cert %s, tls-key %s: %w", t.CertFile, t.KeyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tls-cert %s: %w", t.CertFile, err)
		}
	}
	m.cert = cert
	if t.ClientCAFile != "" {
		b, err := os.ReadFile(t.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls-client-ca: %w", err)
		}
		m.clientCAs = x509.NewCertPool()
		if !m.clientCAs.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("tls-client-ca %s holds no PEM certificate", t.ClientCAFile)
		}
	}
	return m, nil
}

// stamp sums up the modification times and sizes of the TLS files (of
// what symbolic links point to), so that a change of any shows.
func (t tlsFlags) stamp() string {
	var b strings.Builder
	for _, name := range []string{t.CertFile, t.KeyFile, t.ClientCAFile} {
		if name == "" {
			continue
		}
		if fi, err := os.Stat(name); err != nil {
			b.WriteString("-;")
		} else {
			fmt.Fprintf(&b, "%d,%d;", fi.ModTime().UnixNano(), fi.Size())
		}
	}
	return b.String()
}

// tlsServer holds the configuration new TLS connections get; a reload
// replaces it whole, and connections already open keep theirs.
type tlsServer struct {
	files   tlsFlags
	log     *slog.Logger
	current atomic.Pointer[tls.Config]
	// outer is the configuration connections are made with: it hands
	// each handshake the current one (configFor). Session tickets are
	// sealed with its keys, so they survive reloads; a resumed session
	// with a client certificate is checked again against the current
	// client CAs.
	outer *tls.Config

	// Owned by watch: the stamp of the files last loaded (or refused),
	// and that of a change seen but not yet settled.
	loaded, pending string
}

func newTLSServer(files tlsFlags, logger *slog.Logger) (*tlsServer, error) {
	m, err := loadTLSMaterial(files)
	if err != nil {
		return nil, err
	}
	s := &tlsServer{files: files, log: logger, loaded: m.stamp}
	s.current.Store(serverTLSConfig(m))
	s.outer = &tls.Config{MinVersion: tls.VersionTLS12, GetConfigForClient: s.configFor}
	leaf := m.cert.Leaf
	logger.Info("TLS certificate loaded", "subject", leaf.Subject.String(), "dns_names", leaf.DNSNames,
		"not_after", leaf.NotAfter, "client_ca", files.ClientCAFile)
	if time.Now().After(leaf.NotAfter) {
		logger.Warn("the TLS certificate has expired: clients will refuse it", "not_after", leaf.NotAfter)
	}
	return s, nil
}

// serverTLSConfig is the configuration served with m.
func serverTLSConfig(m *tlsMaterial) *tls.Config {
	c := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: tlsCipherSuites,
		Certificates: []tls.Certificate{m.cert},
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if m.clientCAs != nil {
		// A certificate is asked for but not required, so that clients
		// with a password or a token still connect; a certificate sent
		// must chain to the pool (and be valid now, for client
		// authentication), else the handshake fails.
		c.ClientAuth = tls.VerifyClientCertIfGiven
		c.ClientCAs = m.clientCAs
	}
	return c
}

// configFor gives a handshake the current configuration, which tells the
// connection's handshake timer when the handshake is through.
func (s *tlsServer) configFor(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	c := s.current.Load()
	hc, ok := hello.Conn.(*handshakeConn)
	if !ok {
		return c, nil
	}
	c = c.Clone()
	// Called on every handshake that succeeds, resumed ones included,
	// once the peer is verified.
	c.VerifyConnection = func(tls.ConnectionState) error {
		hc.handshakeDone()
		return nil
	}
	return c, nil
}

// watch reloads the TLS files on SIGHUP and when they change, until ctx
// ends.
func (s *tlsServer) watch(ctx context.Context, hup <-chan os.Signal, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			s.reload("SIGHUP")
		case <-tick.C:
			s.poll()
		}
	}
}

// poll reloads the files once a change has settled: seen the same on two
// looks in a row.
func (s *tlsServer) poll() {
	st := s.files.stamp()
	switch st {
	case s.loaded:
		s.pending = ""
	case s.pending:
		s.reload("files changed")
	default:
		s.pending = st
	}
}

// reload loads the files and serves them to new connections; a pair that
// does not load, or whose certificate has expired, is refused and the one
// in use stays.
func (s *tlsServer) reload(reason string) {
	s.pending = ""
	// The stamp is taken before the files are read, so that a change
	// made while they are read shows at the next look.
	s.loaded = s.files.stamp()
	m, err := loadTLSMaterial(s.files)
	if err == nil && time.Now().After(m.cert.Leaf.NotAfter) {
		err = fmt.Errorf("tls-cert %s expired on %s", s.files.CertFile, m.cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if err != nil {
		// Not tried again until the files change again.
		s.log.Error("TLS certificate not reloaded: the one in use stays", "reason", reason, "err", err)
		return
	}
	s.current.Store(serverTLSConfig(m))
	leaf := m.cert.Leaf
	s.log.Info("TLS certificate reloaded", "reason", reason, "subject", leaf.Subject.String(),
		"dns_names", leaf.DNSNames, "not_after", leaf.NotAfter, "serial", leaf.SerialNumber.String())
}

// tlsListener serves TLS on the connections of a limitListener.
type tlsListener struct {
	net.Listener
	config  *tls.Config
	timeout time.Duration
}

// Accept returns the next connection, on which the HTTP server will run
// the handshake. A timer cuts the connection unless its handshake is
// through within the timeout, so that a client that stalls it holds its
// place under the caps for no longer.
func (l *tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	hc := &handshakeConn{Conn: c}
	// A deadline in the past ends the handshake's read or write at once
	// with a timeout (which the HTTP server logs as such), and the server
	// then closes the connection.
	hc.timer = time.AfterFunc(l.timeout, func() { c.SetDeadline(time.Now()) })
	return tls.Server(hc, l.config), nil
}

// handshakeConn is a connection whose handshake runs against a timer.
type handshakeConn struct {
	net.Conn
	timer *time.Timer
}

func (c *handshakeConn) handshakeDone() { c.timer.Stop() }

func (c *handshakeConn) Close() error {
	c.timer.Stop()
	return c.Conn.Close()
}

// tlsRefusals are the answers to connections over the caps when the
// server speaks TLS: a fatal internal_error alert (RFC 8446 section 6.2,
// "an internal error unrelated to the peer"; no alert says "busy"), sent
// in the clear as alerts before the handshake are. The client reports
// "remote error: tls: internal error".
var tlsRefusals = map[string][]byte{
	"all":    tlsInternalErrorAlert,
	"source": tlsInternalErrorAlert,
}

// tlsInternalErrorAlert is one alert record: type alert (21), version
// TLS 1.2 (3, 3), length 2, level fatal (2), description internal_error
// (80).
var tlsInternalErrorAlert = []byte{21, 3, 3, 0, 2, 2, 80}
