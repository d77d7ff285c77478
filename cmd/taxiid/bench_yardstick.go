package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/taxiid/taxiid/taxii"
)

// yardstick is a bare Go HTTP server, in the bench process, that answers
// every request with one fixed answer after reading the request's body:
// what the HTTP stack, the loopback network and the bench clients cost on
// this machine, the limit no server can pass.
type yardstick struct {
	srv       *http.Server
	base      string
	clientTLS *tls.Config
	answer    atomic.Pointer[yardstickAnswer]
}

// yardstickAnswer is the answer the yardstick serves.
type yardstickAnswer struct {
	status int
	body   []byte
}

// yardstickDate is the X-TAXII-Date-Added-First and -Last of every answer,
// which pollers send back as added_after.
const yardstickDate = "2026-01-01T00:00:00.000000Z"

// startYardstick starts the yardstick on a loopback port: over TLS, with
// a certificate made for it, when the server under test is reached over
// HTTPS, so that both cost the same handshakes and encryption.
func startYardstick(useTLS bool) (*yardstick, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	y := &yardstick{}
	y.answer.Store(&yardstickAnswer{status: http.StatusOK, body: []byte("{}")})
	y.srv = &http.Server{
		Handler:           y,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	scheme := "http"
	if useTLS {
		cert, pool, err := yardstickCertificate()
		if err != nil {
			ln.Close()
			return nil, err
		}
		y.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		y.clientTLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		scheme = "https"
		go y.srv.ServeTLS(ln, "", "")
	} else {
		go y.srv.Serve(ln)
	}
	y.base = scheme + "://" + ln.Addr().String()
	return y, nil
}

func (y *yardstick) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	a := y.answer.Load()
	h := w.Header()
	h["Content-Type"] = []string{taxii.MediaTypeTAXII}
	h["Content-Length"] = []string{strconv.Itoa(len(a.body))}
	h["X-Taxii-Date-Added-First"] = []string{yardstickDate}
	h["X-Taxii-Date-Added-Last"] = []string{yardstickDate}
	w.WriteHeader(a.status)
	w.Write(a.body)
}

// serve makes a the answer to every request from now on.
func (y *yardstick) serve(a yardstickAnswer) { y.answer.Store(&a) }

// target is the yardstick as a target with the paths and credentials of
// server: the clients send the very requests they send the server.
func (y *yardstick) target(server *benchTarget) *benchTarget {
	t := *server
	t.name, t.base, t.tls = "yardstick", y.base, y.clientTLS
	return &t
}

func (y *yardstick) close() { y.srv.Close() }

// yardstickCertificate makes a self-signed certificate for 127.0.0.1 and
// the pool that trusts it.
func yardstickCertificate() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "taxiid bench yardstick"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
