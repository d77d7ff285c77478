package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// Bounds of a push page: the objects' bytes in one request (a remote API
// root commonly takes 10 MiB or more; TAXII 2.1 section 4.2.1), and how
// long a pending status of the remote is waited for before the page is
// sent again (harmless: the versions are then unchanged there).
const (
	DefaultPushBytes = 4 << 20
	statusWait       = 5 * time.Minute
)

// cursorLayout writes a local date_added as a push cursor.
const cursorLayout = "2006-01-02T15:04:05.000000Z"

// push forwards the versions the local collection added after the cursor
// to the remote collection, page by page in date_added order: every
// version of every spec version (an export's selection), the bytes
// stored. The cursor moves past a page once the remote's status of it is
// complete, so that a crash or a failure sends the page again, never
// skips it. Objects the remote refuses are recorded as rejections.
func (p *Puller) push(ctx context.Context, name string, src Source, state State, c *client) (int, error) {
	after := time.Time{}
	if state.Cursor.After != "" {
		t, err := parseTime(state.Cursor.After)
		if err != nil {
			return 0, fmt.Errorf("push cursor %q: %w", state.Cursor.After, err)
		}
		after = t
	}
	limits := p.Limits.withDefaults()
	pages := 0
	for {
		pg, err := p.Service.colls.Objects(ctx, collections.Query{APIRoot: src.APIRoot, Collection: src.Collection,
			Versions: collections.VersionFilter{All: true}, AllSpecVersions: true, AddedAfter: after, MaxTLP: src.MaxTLP,
			Limit: limits.PageObjects, MaxBytes: int(min(limits.PageBytes, DefaultPushBytes))})
		if err != nil {
			return pages, fmt.Errorf("read the local collection: %w", err)
		}
		now := time.Now().UTC()
		if len(pg.Objects) == 0 {
			rec := PageRecord{At: now, Cursor: Cursor{After: state.Cursor.After}, CaughtUp: true, Batch: Batch{At: now}}
			if !after.IsZero() {
				rec.Cursor.After = after.UTC().Format(cursorLayout)
			}
			return pages, p.record(ctx, name, rec)
		}
		var raws []json.RawMessage
		var held []Rejection
		for _, o := range pg.Objects {
			// The page holds only versions at or below the ceiling (the
			// store selects them); one whose granular markings go above
			// it would be sent whole: it is held back.
			if src.MaxTLP != stix.TLPNone && o.GranularTLP > src.MaxTLP {
				held = append(held, Rejection{ID: o.ID, Version: stix.FormatTimestamp(o.Version), Reason: "granular-marking",
					Message: fmt.Sprintf("has properties marked %s, above the source's max_tlp %s: not forwarded", o.GranularTLP, src.MaxTLP)})
				continue
			}
			raws = append(raws, o.Raw)
		}
		rs := remoteStatus{Status: "complete"}
		if len(raws) > 0 {
			if rs, err = c.post(ctx, raws); err != nil {
				return pages, fmt.Errorf("push %d objects: %w", len(raws), err)
			}
			if rs, err = p.waitStatus(ctx, c, rs); err != nil {
				return pages, err
			}
		}
		first, last := pg.Objects[0].DateAdded, pg.Objects[len(pg.Objects)-1].DateAdded
		rec := PageRecord{At: time.Now().UTC(), Cursor: Cursor{After: last.UTC().Format(cursorLayout)}, CaughtUp: !pg.More,
			Batch: Batch{First: first.UTC().Format(cursorLayout), Last: last.UTC().Format(cursorLayout), Objects: len(pg.Objects),
				Added: rs.SuccessCount, Rejected: rs.FailureCount + len(held)}}
		rec.Batch.At = rec.At
		for _, h := range held {
			h.At = rec.At
			rec.Rejections = append(rec.Rejections, h)
		}
		for _, f := range rs.Failures {
			if len(rec.Rejections) == MaxRejections {
				break
			}
			rec.Rejections = append(rec.Rejections, Rejection{At: rec.At, ID: Clip(f.ID), Version: Clip(f.Version),
				Reason: "remote", Message: Clip(f.Message)})
		}
		if err := p.record(ctx, name, rec); err != nil {
			return pages, err
		}
		pages++
		if p.Progress != nil {
			p.Progress(rec)
		}
		if !pg.More {
			return pages, nil
		}
		after = last
		if err := ctx.Err(); err != nil {
			return pages, err
		}
	}
}

// record writes a page's record even when ctx ends now (see pull).
func (p *Puller) record(ctx context.Context, name string, rec PageRecord) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	return p.Service.store.RecordPage(wctx, name, p.Holder, rec)
}

// waitStatus polls a pending status of the remote until it is complete,
// for at most statusWait.
func (p *Puller) waitStatus(ctx context.Context, c *client, rs remoteStatus) (remoteStatus, error) {
	deadline := time.Now().Add(statusWait)
	wait := 100 * time.Millisecond
	for rs.Status != "complete" {
		if time.Now().After(deadline) {
			return rs, fmt.Errorf("the remote's status %s is still pending after %s", rs.ID, statusWait)
		}
		select {
		case <-ctx.Done():
			return rs, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
		var err error
		if rs, err = c.status(ctx, rs.ID); err != nil {
			return rs, fmt.Errorf("the remote's status: %w", err)
		}
	}
	return rs, nil
}
