package taxii

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddress rewrites r.RemoteAddr to the client's address when the
// request comes through a trusted reverse proxy: the rightmost address of
// X-Forwarded-For that is not itself a trusted proxy. Everything keyed by
// the source address (rate limits, failed sign-in bounds, the audit log)
// then sees the client rather than the proxy. Requests from other peers
// keep their address whatever X-Forwarded-For says, since a client can
// write the header. The port of a rewritten address is 0.
func (s *Server) clientAddress(r *http.Request) *http.Request {
	if len(s.trustedProxies) == 0 {
		return r
	}
	peer, ok := parseHost(r.RemoteAddr)
	if !ok || !s.trusted(peer) {
		return r
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		list := strings.Split(hops[i], ",")
		for j := len(list) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(list[j]))
			if err != nil {
				return r // a malformed hop: keep the proxy's address
			}
			a = a.Unmap()
			if s.trusted(a) {
				continue
			}
			r2 := r.Clone(r.Context())
			r2.RemoteAddr = netip.AddrPortFrom(a, 0).String()
			return r2
		}
	}
	return r
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.trustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHost returns the address of a host:port.
func parseHost(hostport string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}
