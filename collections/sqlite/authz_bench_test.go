package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/taxiid/taxiid/authz"
)

// BenchmarkAuthzPolicy measures the Authorizer on a large hub: 10,000 users
// in 1,000 organizations, 100,000 grants (each organization reads 100 of
// 1,000 collections). One op is one policy load (what every process does
// when the policy changes); it reports the heap the loaded policy holds and
// the cost of a decision computed by the enforcer.
func BenchmarkAuthzPolicy(b *testing.B) {
	const users, orgs, grants, colls = 10_000, 1_000, 100_000, 1_000
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "taxiid.db")
	s := open(b, path)
	// Rows go in directly, in one transaction of a second connection:
	// through the Store they would be 110,000 durable commits.
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ms := time.Now().UnixMilli()
	err = inTx(ctx, db, func(tx *sql.Tx) error {
		for i := range orgs {
			if _, err := tx.ExecContext(ctx, "INSERT INTO organizations VALUES (?, ?, '', ?, ?)",
				fmt.Sprint("o", i), fmt.Sprint("org ", i), ms, ms); err != nil {
				return err
			}
		}
		for i := range users {
			if _, err := tx.ExecContext(ctx, "INSERT INTO users VALUES (?, ?, ?, 'member', '', 0, ?, ?)",
				fmt.Sprint("u", i), fmt.Sprint("user ", i), fmt.Sprint("o", i%orgs), ms, ms); err != nil {
				return err
			}
		}
		for i := range grants {
			org, coll := i%orgs, (i/orgs*10+i%orgs)%colls
			if _, err := tx.ExecContext(ctx, "INSERT INTO grants VALUES (?, 'organization', ?, 'api1', ?, 'read', ?)",
				fmt.Sprintf("g%06d", i), fmt.Sprint("o", org), fmt.Sprint("c", coll), ms); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, "UPDATE authz_generation SET value = value + 1")
		return err
	})
	if err != nil {
		b.Fatal(err)
	}

	var before, after runtime.MemStats
	cpu := cpuTime()
	runtime.GC()
	runtime.ReadMemStats(&before)
	var (
		w  *authz.Watcher
		az *authz.Authorizer
	)
	for b.Loop() {
		w = authz.NewWatcher(s, time.Hour, nil)
		if az, err = authz.NewAuthorizer(s, w, nil); err != nil {
			b.Fatal(err)
		}
		if err := w.Start(ctx); err != nil {
			b.Fatal(err)
		}
		w.Close()
	}
	b.ReportMetric(float64((cpuTime()-cpu).Milliseconds())/float64(b.N), "cpu-ms/load")
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MiB")

	// Decisions computed by the enforcer, each on a new (principal,
	// collection) pair so that none is remembered.
	p := authz.Principal{UserID: "u5", OrganizationID: "o5", Role: authz.RoleMember}
	cpu = cpuTime()
	allowed := 0
	const n = 2000
	for i := range n {
		p.UserID = fmt.Sprint("u", i)
		if az.Can(p, "api1", fmt.Sprint("c", i%colls), authz.ActionRead) {
			allowed++
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/n, "cpu-ns/decision")
	if allowed == 0 {
		b.Fatal("no decision allowed: the policy did not load")
	}
	runtime.KeepAlive(az)
}

// inTx runs fn in a transaction of db and commits.
func inTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}
