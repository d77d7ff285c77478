package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrURL is the error of a subscription URL that taxiid will not call;
// such errors are *URLError.
var ErrURL = errors.New("webhook: URL refused")

// URLError says why taxiid will not call a URL.
type URLError struct{ Reason string }

func (e *URLError) Error() string { return ErrURL.Error() + ": " + e.Reason }

// Is makes a URLError match ErrURL.
func (e *URLError) Is(target error) bool { return target == ErrURL }

func urlErr(format string, args ...any) error {
	return &URLError{Reason: fmt.Sprintf(format, args...)}
}

// MaxURLLen bounds a subscription URL.
const MaxURLLen = 2048

// Guard decides which URLs taxiid calls: HTTPS only, to hosts whose every
// address is public, unless an operator allowed the host explicitly
// (AllowHosts: plain HTTP and any address then). It checks each
// connection again (Transport), so that a name that resolved to a public
// address when subscribing cannot later point at an internal one (DNS
// rebinding).
type Guard struct {
	// AllowHosts are host names or addresses, optionally with ":port",
	// compared without case.
	AllowHosts []string
	// Resolver resolves names; nil: net.DefaultResolver.
	Resolver interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	}
}

// allowed reports whether the host (and port) of u was allowed.
func (g *Guard) allowed(host, port string) bool {
	for _, a := range g.AllowHosts {
		ah, ap, err := net.SplitHostPort(a)
		if err != nil {
			ah, ap = strings.Trim(a, "[]"), ""
		}
		if strings.EqualFold(ah, host) && (ap == "" || ap == port) {
			return true
		}
	}
	return false
}

// CheckURL reports why taxiid would not call raw (an error wrapping
// ErrURL), resolving its host.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	if len(raw) > MaxURLLen {
		return urlErr("longer than %d bytes", MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return urlErr("not an absolute URL")
	}
	if u.User != nil {
		return urlErr("credentials in the URL")
	}
	if u.Fragment != "" {
		return urlErr("a fragment")
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	allowed := g.allowed(host, port)
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowed:
	default:
		return urlErr("scheme %q, only https (http for a host the operator allowed)", u.Scheme)
	}
	if allowed {
		return nil
	}
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return urlErr("%s does not resolve: %v", host, err)
	}
	for _, a := range addrs {
		if why := forbidden(a); why != "" {
			return urlErr("%s resolves to %s, %s", host, a, why)
		}
	}
	return nil
}

func (g *Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	r := g.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err == nil && len(addrs) == 0 {
		err = errors.New("no address")
	}
	return addrs, err
}

// special are address ranges that are not the public Internet, beyond
// those netip classifies (RFC 6890 and successors).
var special = []struct {
	p   netip.Prefix
	why string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "a \"this network\" address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared (carrier-grade NAT) address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a local-use translation address"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
}

// forbidden says why a is no address taxiid calls unasked ("" if it is
// public).
func forbidden(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return "no address"
	case a.IsLoopback():
		return "a loopback address"
	case a.IsUnspecified():
		return "the unspecified address"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "a link-local address"
	case a.IsPrivate():
		return "a private address"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return "a multicast address"
	}
	if a.Is4() && a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return "the broadcast address"
	}
	for _, s := range special {
		if s.p.Contains(a) {
			return s.why
		}
	}
	return ""
}

// ClientOptions tune Guard.Client.
type ClientOptions struct {
	// Timeout bounds one attempt, from dialing to the end of the answer.
	Timeout time.Duration
	// RootCAs are the authorities receivers' certificates chain to; nil:
	// the system's.
	RootCAs *x509.CertPool
}

// Client returns the HTTP client deliveries go through: connections only
// to addresses CheckURL accepts (checked on the address actually dialed),
// no proxy, no redirects followed (a redirect is an answer, not a
// success), and the attempt bounded by o.Timeout.
func (g *Guard) Client(o ClientOptions) *http.Client {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	guarded := &net.Dialer{Timeout: o.Timeout, Control: func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return urlErr("%v", err)
		}
		a, err := netip.ParseAddr(host)
		if err != nil {
			return urlErr("dialing %q", address)
		}
		if why := forbidden(a); why != "" {
			return urlErr("%s is %s", a, why)
		}
		return nil
	}}
	plain := &net.Dialer{Timeout: o.Timeout}
	t := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if g.allowed(host, port) {
				return plain.DialContext(ctx, network, addr)
			}
			return guarded.DialContext(ctx, network, addr)
		},
		TLSClientConfig:        &tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    o.Timeout,
		ResponseHeaderTimeout:  o.Timeout,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 16 << 10,
	}
	return &http.Client{
		Transport: t,
		Timeout:   o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
