package mirror

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/taxiid/taxiid/collections"
)

// Puller runs pulls of sources into local collections.
type Puller struct {
	Service  *Service
	Ingester *collections.Ingester
	Limits   Limits
	// Holder names this process in leases; Lease is how long a lease
	// lasts without renewal (DefaultLease when 0).
	Holder string
	Lease  time.Duration
	// Progress, when set, is told after each stored page.
	Progress func(PageRecord)
}

// DefaultLease is how long a source's lease lasts unless renewed: a pull
// renews it every third of it, so that the lease of a process that died
// frees the source within that time.
const DefaultLease = 30 * time.Second

func (p *Puller) lease() time.Duration { return cmpOr(p.Lease, DefaultLease) }

// recordTimeout bounds the store writes a pull finishes after its
// context ends.
const recordTimeout = 30 * time.Second

// ErrBusy is returned by Pull when another process holds the source's
// lease.
var ErrBusy = errors.New("another process is pulling this source")

// Pull takes the source's lease and pulls it until caught up (the
// remote's last page), storing each page and its record before asking for
// the next. It returns the number of pages stored. Failures are recorded
// in the source's state and returned; the next pull resumes from the last
// recorded page.
func (p *Puller) Pull(ctx context.Context, name string) (int, error) {
	st := p.Service.store
	ok, err := st.AcquireSourceLease(ctx, name, p.Holder, time.Now(), p.lease())
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, ErrBusy
	}
	defer func() {
		// Released even when ctx has ended, so that another process need
		// not wait for the lease to expire.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		st.ReleaseSourceLease(rctx, name, p.Holder)
	}()
	// The lease is renewed in the background while the pull runs; once
	// another process holds it, the pull stops (its writes would be
	// refused anyway: they are guarded by the lease).
	pctx, cancel := context.WithCancelCause(ctx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(p.lease() / 3)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-t.C:
			}
			ok, err := st.AcquireSourceLease(pctx, name, p.Holder, time.Now(), p.lease())
			if err == nil && !ok {
				cancel(ErrLeaseLost)
				return
			}
		}
	}()
	pages, err := p.pull(pctx, name)
	cancel(nil)
	<-renewed
	if errors.Is(context.Cause(pctx), ErrLeaseLost) {
		err = ErrLeaseLost
	}
	if err != nil && ctx.Err() == nil && !errors.Is(err, ErrLeaseLost) && !errors.Is(err, collections.ErrNotFound) {
		if rerr := st.RecordError(context.WithoutCancel(ctx), name, p.Holder, time.Now(), Clip(err.Error())); rerr != nil && !errors.Is(rerr, ErrLeaseLost) {
			err = errors.Join(err, rerr)
		}
	}
	return pages, err
}

func (p *Puller) pull(ctx context.Context, name string) (int, error) {
	st := p.Service.store
	src, err := st.Source(ctx, name)
	if err != nil {
		return 0, err
	}
	state, err := st.SourceState(ctx, name)
	if err != nil {
		return 0, err
	}
	coll, err := p.Service.colls.Collection(ctx, src.APIRoot, src.Collection)
	if err != nil {
		return 0, fmt.Errorf("local collection %s/%s: %w", src.APIRoot, src.Collection, err)
	}
	creds, err := p.Service.unseal(ctx, src)
	if err != nil {
		return 0, err
	}
	c, err := newClient(src, creds, p.Limits)
	if err != nil {
		return 0, err
	}
	defer c.close()
	if src.Direction == Push {
		return p.push(ctx, name, src, state, c)
	}

	cur := state.Cursor
	pages := 0
	for {
		walkAfter := cur.After
		if cur.Next != "" {
			walkAfter = cur.WalkAfter
		}
		pg, err := c.get(ctx, walkAfter, cur.Next)
		var re *RemoteError
		if cur.Next != "" && errors.As(err, &re) && (re.Status == http.StatusBadRequest || re.Status == http.StatusNotFound) {
			// The remote no longer takes the token (expired, or its key
			// changed): start a new walk from the cursor, which re-reads
			// at most the page the token continued.
			if err := st.ResetCursor(ctx, name, p.Holder); err != nil {
				return pages, err
			}
			cur.Next, cur.WalkAfter = "", ""
			continue
		}
		if err != nil {
			return pages, err
		}
		results, err := p.Ingester.Import(ctx, coll, pg.Objects)
		if err != nil {
			return pages, fmt.Errorf("store the remote's objects: %w", err)
		}
		rec := PageRecord{At: time.Now().UTC(), Batch: Batch{First: pg.First, Last: pg.Last, Objects: len(pg.Objects)}}
		for _, r := range results {
			switch {
			case r.Outcome == collections.Added:
				rec.Batch.Added++
			case r.Outcome == collections.Unchanged:
				rec.Batch.Unchanged++
			default:
				rec.Batch.Rejected++
				if len(rec.Rejections) < MaxRejections {
					rec.Rejections = append(rec.Rejections, Rejection{At: rec.At, ID: r.Detail.ID, Version: r.Detail.Version,
						Reason: r.Reason, Message: Clip(r.Detail.Message)})
				}
			}
		}
		rec.Batch.At = rec.At
		cur, rec.CaughtUp, err = advance(cur, walkAfter, pg)
		if err != nil {
			return pages, err
		}
		rec.Cursor = cur
		// The page is stored (Import finishes its writes once started):
		// record it even when ctx ends now, so that a stop loses nothing
		// of the counters. A crash here leaves the page unrecorded, and
		// the next pull reads it again: its versions are then unchanged.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		err = st.RecordPage(wctx, name, p.Holder, rec)
		cancel()
		if err != nil {
			return pages, err
		}
		pages++
		if p.Progress != nil {
			p.Progress(rec)
		}
		if rec.CaughtUp {
			return pages, nil
		}
		if err := ctx.Err(); err != nil {
			return pages, err
		}
	}
}

// overlap is how far before the date_added of a page's last object the
// cursor goes while a walk is under way: objects added at that same
// instant may continue on the next page, and added_after is exclusive
// (TAXII 2.1 section 3.4.2), so a new walk from the cursor reads them
// again rather than miss them. Re-reading a stored version is harmless:
// it is unchanged.
const overlap = time.Millisecond

// advance returns the cursor after page pg of a walk that started from
// walkAfter, and whether the walk has ended.
func advance(cur Cursor, walkAfter string, pg page) (Cursor, bool, error) {
	last := cur.After
	if len(pg.Objects) > 0 || laterThan(pg.Last, cur.After) {
		last = pg.Last
	}
	if !pg.More {
		// Every object added up to the page's last one was served.
		if len(pg.Objects) == 0 {
			last = cur.After // an empty page says nothing new
		}
		return Cursor{After: last}, true, nil
	}
	if len(pg.Objects) == 0 && pg.Next == "" {
		return cur, false, errors.New("the remote answered an empty page with more and no next")
	}
	after := last
	if len(pg.Objects) > 0 {
		t, _ := parseTime(pg.Last) // checked by get
		after = t.Add(-overlap).UTC().Format("2006-01-02T15:04:05.000000Z")
		if !laterThan(after, cur.After) {
			after = cur.After
		}
	}
	if pg.Next == "" {
		// A remote that pages without tokens: continue from the last
		// object, exclusive, as it leaves no other way.
		if !laterThan(last, walkAfter) {
			return cur, false, errors.New("the remote's pages do not advance (more without next, same date_added)")
		}
		return Cursor{After: last}, false, nil
	}
	return Cursor{After: after, Next: pg.Next, WalkAfter: walkAfter}, false, nil
}

// laterThan reports whether timestamp a is after b ("" is the start).
func laterThan(a, b string) bool {
	ta, err := parseTime(a)
	if err != nil {
		return false
	}
	if b == "" {
		return true
	}
	tb, err := parseTime(b)
	return err != nil || ta.After(tb)
}
