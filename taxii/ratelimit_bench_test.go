//go:build unix

package taxii

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/taxiid/taxiid/authz"
)

// BenchmarkRateLimiter measures what the limiter adds to a request: a
// request token taken (and, for a push, the bytes reserved and settled),
// with limits no request reaches. cpu-ns/op is the process's CPU time per
// request, which a loaded machine inflates less than ns/op. See
// BENCHMARKS.md.
//
//	go test ./taxii -run '^$' -bench RateLimiter -benchtime 2000000x -cpu 1,2
func BenchmarkRateLimiter(b *testing.B) {
	never := Limits{Requests: 1e15, RequestsBurst: 1 << 60, PushBytes: 1e15, PushBytesBurst: 1 << 60}
	l, err := NewRateLimiter(RateLimitConfig{Default: never})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	users := make([]authz.Principal, 1000)
	for i := range users {
		users[i] = authz.Principal{UserID: fmt.Sprintf("user-%04d-0000-4000-8000-000000000000", i), OrganizationID: "org"}
	}
	get := func(remote string) *http.Request {
		r := httptest.NewRequest("GET", "/api1/collections/", nil)
		r.RemoteAddr = remote
		return r
	}
	run := func(b *testing.B, p func(i int) authz.Principal, r func(i int) *http.Request) {
		b.ReportAllocs()
		var next atomic.Int64
		cpu0 := rusageCPU(b)
		defer func() { b.ReportMetric(float64(rusageCPU(b)-cpu0)/float64(b.N), "cpu-ns/op") }()
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1)) * 7919
			for pb.Next() {
				i++
				body, err := l.admit(ctx, p(i), r(i))
				if err != nil {
					b.Error(err)
					return
				}
				if body != nil {
					body.settle()
				}
			}
		})
	}
	one := users[0]
	b.Run("one user", func(b *testing.B) {
		req := get("192.0.2.1:5555")
		run(b, func(int) authz.Principal { return one }, func(int) *http.Request { return req })
	})
	b.Run("1000 users", func(b *testing.B) {
		req := get("192.0.2.1:5555")
		run(b, func(i int) authz.Principal { return users[i%len(users)] }, func(int) *http.Request { return req })
	})
	b.Run("anonymous, 1000 addresses", func(b *testing.B) {
		reqs := make([]*http.Request, 1000)
		for i := range reqs {
			reqs[i] = get(fmt.Sprintf("[2001:db8:%x::1]:443", i))
		}
		run(b, func(int) authz.Principal { return authz.Principal{} }, func(i int) *http.Request { return reqs[i%len(reqs)] })
	})
	b.Run("push, 1000 users", func(b *testing.B) {
		// The body is never read: only its Content-Length is reserved and
		// given back.
		req := httptest.NewRequest("POST", "/api1/collections/c/objects/", strings.NewReader(strings.Repeat(" ", 1<<20)))
		req.RemoteAddr = "192.0.2.1:5555"
		run(b, func(i int) authz.Principal { return users[i%len(users)] }, func(int) *http.Request { return req })
	})
}

// rusageCPU returns the CPU time (user and system) the process has used.
func rusageCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
