package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/taxiid/taxiid/taxii"
)

// benchTarget is a server the load is sent to: the taxiid server under
// test, or the yardstick.
type benchTarget struct {
	name     string // "server" or "yardstick"
	base     string // scheme://host[:port][/prefix]
	rootPath string // /api1/
	collPath string // /api1/collections/default/
	auth     string // Authorization header, empty for none
	tls      *tls.Config
	timeout  time.Duration
}

// newClient returns an HTTP client with a transport of its own: each
// load client holds its own connection, as each partner does, also over
// HTTP/2, where one transport would multiplex every client on one
// connection.
func (t *benchTarget) newClient() *http.Client {
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     t.tls.Clone(),
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr, Timeout: t.timeout}
}

// maxAnswer bounds what one answer may hold: a page of objects is at most
// 16 MiB on taxiid.
const maxAnswer = 64 << 20

// phaseStats is what one load client measured in a phase; the phase's
// figures are the merge of its clients'.
type phaseStats struct {
	requests, pages, objects, rejected, empty, bytesIn int64
	errors                                             map[string]int64
	errorSamples                                       map[string]string
	latency, sizes                                     histogram
	// sample is a copy of the answer with the most objects, to build the
	// yardstick's answer from.
	sample        []byte
	sampleObjects int
}

func (s *phaseStats) fail(kind string, detail string) {
	if s.errors == nil {
		s.errors, s.errorSamples = map[string]int64{}, map[string]string{}
	}
	s.errors[kind]++
	if _, ok := s.errorSamples[kind]; !ok {
		if len(detail) > 200 {
			detail = detail[:200] + "..."
		}
		s.errorSamples[kind] = detail
	}
}

// keep makes body the sample when it holds more objects than the sample.
func (s *phaseStats) keep(body []byte, objects int) {
	if s.sample == nil || objects > s.sampleObjects {
		s.sample, s.sampleObjects = bytes.Clone(body), objects
	}
}

func (s *phaseStats) merge(o *phaseStats) {
	s.requests += o.requests
	s.pages += o.pages
	s.objects += o.objects
	s.rejected += o.rejected
	s.empty += o.empty
	s.bytesIn += o.bytesIn
	for k, v := range o.errors {
		s.fail(k, o.errorSamples[k])
		s.errors[k] += v - 1
	}
	s.latency.merge(&o.latency)
	s.sizes.merge(&o.sizes)
	if o.sample != nil {
		s.keep(o.sample, o.sampleObjects)
	}
}

// benchWorker is one load client.
type benchWorker struct {
	t    *benchTarget
	hc   *http.Client
	st   phaseStats
	live *liveCounts
	buf  bytes.Buffer
}

// liveCounts are the counts of a phase while it runs, which its progress
// lines show.
type liveCounts struct {
	requests, objects, failed atomic.Int64
}

func (w *benchWorker) fail(kind, detail string) {
	w.st.fail(kind, detail)
	w.live.failed.Add(1)
}

// count adds n objects pushed or read.
func (w *benchWorker) count(n int64) {
	w.st.objects += n
	w.live.objects.Add(n)
}

// answer is a response read whole; body is valid until the worker's next
// request.
type answer struct {
	status  int
	header  http.Header
	body    []byte
	elapsed time.Duration
}

// do sends one request and reads its whole answer. It reports false for
// a failure, which it counts by kind (the status code, "timeout",
// "refused", "transport"), and for a request cut short by the end of the
// phase (ctx), which is not counted at all.
func (w *benchWorker) do(ctx context.Context, method, path string, body []byte) (answer, bool) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, w.t.base+path, rd)
	if err != nil {
		w.fail("request", err.Error())
		return answer{}, false
	}
	req.Header.Set("Accept", taxii.MediaTypeTAXII)
	if body != nil {
		req.Header.Set("Content-Type", taxii.MediaTypeTAXII)
	}
	if w.t.auth != "" {
		req.Header.Set("Authorization", w.t.auth)
	}
	start := time.Now()
	resp, err := w.hc.Do(req)
	if err == nil {
		w.buf.Reset()
		_, err = w.buf.ReadFrom(io.LimitReader(resp.Body, maxAnswer+1))
		resp.Body.Close()
		if err == nil && w.buf.Len() > maxAnswer {
			err = fmt.Errorf("%s %s: answer larger than %d MiB", method, path, maxAnswer>>20)
		}
	}
	elapsed := time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			return answer{}, false
		}
		w.st.requests++
		w.live.requests.Add(1)
		w.fail(errorKind(err), err.Error())
		// A server that is down refuses at once: pause rather than spin.
		sleep(ctx, 100*time.Millisecond)
		return answer{}, false
	}
	w.st.requests++
	w.live.requests.Add(1)
	w.st.bytesIn += int64(w.buf.Len())
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		w.fail(strconv.Itoa(resp.StatusCode), fmt.Sprintf("%s %s: %s", method, path, bytes.TrimSpace(w.buf.Bytes())))
		return answer{}, false
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: w.buf.Bytes(), elapsed: elapsed}, true
}

// errorKind names the kind of a failed request in the report.
func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	}
	return "transport"
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// progressInterval is the time between two progress lines of a phase.
const progressInterval = 10 * time.Second

// runWorkers runs n load clients on t until each returns or ctx ends, and
// returns what they measured together and the time they took. While they
// run, a line on progress every progressInterval tells how far the phase
// called name is.
func (r *benchRun) runWorkers(ctx context.Context, name string, t *benchTarget, n int, work func(ctx context.Context, w *benchWorker)) (phaseStats, time.Duration) {
	live := &liveCounts{}
	workers := make([]*benchWorker, n)
	for i := range workers {
		workers[i] = &benchWorker{t: t, hc: t.newClient(), live: live}
	}
	var wg sync.WaitGroup
	start := time.Now()
	for _, w := range workers {
		wg.Go(func() { work(ctx, w) })
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	tick := time.NewTicker(progressInterval)
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-tick.C:
			s := time.Since(start).Seconds()
			fmt.Fprintf(r.progress, "bench: %s on the %s: %.0f s, %s objects (%s/s), %s requests (%s/s), %s failed\n",
				name, t.name, s, count(live.objects.Load()), rate(float64(live.objects.Load())/s),
				count(live.requests.Load()), rate(float64(live.requests.Load())/s), count(live.failed.Load()))
		}
	}
	tick.Stop()
	elapsed := time.Since(start)
	var st phaseStats
	for _, w := range workers {
		st.merge(&w.st)
		w.hc.CloseIdleConnections()
	}
	return st, elapsed
}

// phaseContext bounds a phase by d (none when 0).
func phaseContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}

// pushEnvelope is one envelope to push.
type pushEnvelope struct {
	body    []byte
	objects int
}

// pushStatus is what the push clients read of a status resource (TAXII
// 2.1 section 4.3.1).
type pushStatus struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	SuccessCount int    `json:"success_count"`
	FailureCount int    `json:"failure_count"`
	Successes    []struct {
		ID string `json:"id"`
	} `json:"successes"`
}

// push is the push phase: clients post envelopes from the file or of
// synthetic indicators, and wait for each status to be complete. Its
// latency is that of a whole push, from the POST to the complete status;
// its pages are envelopes. On the yardstick, which stores nothing, the
// objects counted are those sent.
func (r *benchRun) push(ctx context.Context, t *benchTarget, model *phaseResult) *phaseResult {
	cfg := r.cfg
	var ids *idWriter
	if model == nil && cfg.PushIDs != "" {
		var err error
		if ids, err = newIDWriter(cfg.PushIDs); err != nil {
			res := newPhaseResult("push", t, cfg.PushClients, phaseStats{}, 0)
			res.SourceError = err.Error()
			return res
		}
	}
	ctx, cancel := phaseContext(ctx, cfg.PushDuration)
	defer cancel()
	envelopes := make(chan pushEnvelope, cfg.PushClients)
	var sourceErr error
	go func() {
		defer close(envelopes)
		if cfg.PushFile != "" {
			sourceErr = fileEnvelopes(ctx, cfg.PushFile, cfg.Envelope, cfg.PushObjects, envelopes)
		} else {
			syntheticEnvelopes(ctx, cfg.Envelope, cfg.PushObjects, envelopes)
		}
	}()
	st, elapsed := r.runWorkers(ctx, "push", t, cfg.PushClients, func(ctx context.Context, w *benchWorker) {
		for {
			var env pushEnvelope
			select {
			case <-ctx.Done():
				return
			case e, ok := <-envelopes:
				if !ok {
					return
				}
				env = e
			}
			start := time.Now()
			status, body, ok := w.pushOne(ctx, env.body, start.Add(t.timeout))
			if !ok {
				continue
			}
			w.st.latency.record(int64(time.Since(start)))
			w.st.pages++
			w.st.sizes.record(int64(len(body)))
			if t.name == "yardstick" {
				w.count(int64(env.objects))
			} else {
				w.count(int64(status.SuccessCount))
				w.st.rejected += int64(status.FailureCount)
			}
			w.st.keep(body, status.SuccessCount)
			if ids != nil {
				ids.write(status)
			}
		}
	})
	for range envelopes { // until the source has seen the end or ctx
	}
	res := newPhaseResult("push", t, cfg.PushClients, st, elapsed)
	res.kind, res.Envelope = "push", cfg.Envelope
	if sourceErr != nil && ctx.Err() == nil {
		res.SourceError = sourceErr.Error()
	}
	if ids != nil {
		if err := ids.close(); err != nil && res.SourceError == "" {
			res.SourceError = err.Error()
		}
	}
	return res
}

// pushOne posts one envelope and, while its status is pending, reads the
// status again until it is complete or deadline has passed. It returns
// the final status and its body (valid until the worker's next request).
func (w *benchWorker) pushOne(ctx context.Context, envelope []byte, deadline time.Time) (pushStatus, []byte, bool) {
	var st pushStatus
	a, ok := w.do(ctx, http.MethodPost, w.t.collPath+"objects/", envelope)
	if !ok {
		return st, nil, false
	}
	if err := json.Unmarshal(a.body, &st); err != nil {
		w.fail("bad answer", "status: "+err.Error())
		return st, nil, false
	}
	for delay := 20 * time.Millisecond; st.Status == "pending"; delay = min(2*delay, time.Second) {
		if time.Now().Add(delay).After(deadline) {
			w.fail("status timeout", "status "+st.ID+" still pending")
			return st, nil, false
		}
		sleep(ctx, delay)
		if a, ok = w.do(ctx, http.MethodGet, w.t.rootPath+"status/"+url.PathEscape(st.ID)+"/", nil); !ok {
			return st, nil, false
		}
		st = pushStatus{}
		if err := json.Unmarshal(a.body, &st); err != nil {
			w.fail("bad answer", "status: "+err.Error())
			return st, nil, false
		}
	}
	return st, a.body, true
}

// idWriter writes the ids of stored objects, one a line.
type idWriter struct {
	mu sync.Mutex
	f  *os.File
	w  *bufio.Writer
}

func newIDWriter(path string) (*idWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &idWriter{f: f, w: bufio.NewWriter(f)}, nil
}

func (iw *idWriter) write(st pushStatus) {
	iw.mu.Lock()
	defer iw.mu.Unlock()
	for _, s := range st.Successes {
		iw.w.WriteString(s.ID)
		iw.w.WriteByte('\n')
	}
}

func (iw *idWriter) close() error {
	err := iw.w.Flush()
	if cerr := iw.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syntheticEnvelopes sends envelopes of per new indicators, total in all
// (0: until ctx ends). Each indicator is valid STIX 2.1 at every
// validation level, about 900 bytes, with an id of its own.
func syntheticEnvelopes(ctx context.Context, per, total int, out chan<- pushEnvelope) {
	var buf bytes.Buffer
	for sent := 0; total == 0 || sent < total; {
		n := per
		if total > 0 {
			n = min(n, total-sent)
		}
		buf.Reset()
		buf.WriteString(`{"objects":[`)
		ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
		for i := range n {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeIndicator(&buf, sent+i, ts)
		}
		buf.WriteString(`]}`)
		select {
		case out <- pushEnvelope{body: bytes.Clone(buf.Bytes()), objects: n}:
		case <-ctx.Done():
			return
		}
		sent += n
	}
}

// writeIndicator writes one synthetic indicator: a phishing host and its
// login URL, the n-th of the run.
func writeIndicator(buf *bytes.Buffer, n int, ts string) {
	id := uuid.New().String()
	host := "cdn-" + strconv.Itoa(n) + ".login-verify.example.com"
	buf.WriteString(`{"type":"indicator","spec_version":"2.1","id":"indicator--` + id + `",`)
	buf.WriteString(`"created":"` + ts + `","modified":"` + ts + `",`)
	buf.WriteString(`"name":"Phishing host ` + strconv.Itoa(n) + `",`)
	buf.WriteString(`"description":"Credential phishing page imitating a webmail sign-in, reported by several partners; the host also serves a loader for a remote access tool.",`)
	buf.WriteString(`"indicator_types":["malicious-activity","compromised"],`)
	buf.WriteString(`"pattern":"[domain-name:value = '` + host + `'] OR [url:value = 'https://` + host + `/owa/auth/logon.aspx']",`)
	buf.WriteString(`"pattern_type":"stix","pattern_version":"2.1","valid_from":"` + ts + `",`)
	buf.WriteString(`"kill_chain_phases":[{"kill_chain_name":"mitre-attack","phase_name":"initial-access"}],`)
	buf.WriteString(`"labels":["phishing"],"confidence":70,"lang":"en",`)
	buf.WriteString(`"external_references":[{"source_name":"partner-report","external_id":"PR-` + strconv.Itoa(n) + `","url":"https://reports.example.org/pr/` + strconv.Itoa(n) + `"}]}`)
}

// fileEnvelopes sends the objects of the bundle or envelope in path,
// per to an envelope, at most total of them (0: all). The file is read
// as a stream: only the envelopes in flight are in memory.
func fileEnvelopes(ctx context.Context, path string, per, total int, out chan<- pushEnvelope) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(f, 1<<20))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("%s: not a STIX bundle or TAXII envelope (a JSON object)", path)
	}
	var buf bytes.Buffer
	n, sent, found := 0, 0, false
	flush := func() bool {
		if n == 0 {
			return true
		}
		buf.WriteString(`]}`)
		select {
		case out <- pushEnvelope{body: bytes.Clone(buf.Bytes()), objects: n}:
		case <-ctx.Done():
			return false
		}
		sent += n
		n = 0
		return true
	}
members:
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if tok != "objects" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			continue
		}
		found = true
		if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
			return fmt.Errorf("%s: objects is not an array", path)
		}
		for dec.More() {
			if total > 0 && sent+n >= total {
				break members
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return fmt.Errorf("%s: object %d: %w", path, sent+n, err)
			}
			if n == 0 {
				buf.Reset()
				buf.WriteString(`{"objects":[`)
			} else {
				buf.WriteByte(',')
			}
			buf.Write(raw)
			n++
			if n == per && !flush() {
				return nil
			}
		}
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if !found {
		return fmt.Errorf("%s: no objects member", path)
	}
	flush()
	return nil
}

// pull is the pull phase at one page limit: each client walks the
// collection from its start, following next. Each reads PullPages pages
// (walking again from the start at the end), or walks once when neither a
// count nor a duration bounds the phase. On the yardstick, a walk once
// becomes as many pages per client as the server's walks had.
func (r *benchRun) pull(ctx context.Context, t *benchTarget, limit int, model *phaseResult) *phaseResult {
	cfg := r.cfg
	ctx, cancel := phaseContext(ctx, cfg.PullDuration)
	defer cancel()
	perClient := cfg.PullPages
	walkOnce := perClient == 0 && cfg.PullDuration == 0
	if model != nil && walkOnce {
		perClient = max(int((model.Pages+int64(cfg.PullClients)-1)/int64(cfg.PullClients)), 1)
		walkOnce = false
	}
	first := t.collPath + "objects/?limit=" + strconv.Itoa(limit)
	name := "pull limit=" + strconv.Itoa(limit)
	st, elapsed := r.runWorkers(ctx, name, t, cfg.PullClients, func(ctx context.Context, w *benchWorker) {
		next := ""
		for n := 0; walkOnce || perClient == 0 || n < perClient; n++ {
			u := first
			if next != "" {
				u += "&next=" + url.QueryEscape(next)
			}
			a, ok := w.do(ctx, http.MethodGet, u, nil)
			if !ok && ctx.Err() != nil {
				return
			}
			var sum envelopeSummary
			if ok {
				var err error
				if sum, err = scanEnvelope(a.body); err != nil {
					w.fail("bad answer", "page: "+err.Error())
					ok = false
				} else if sum.more && sum.next == "" {
					w.fail("bad answer", "page: more without next")
					ok = false
				}
			}
			if !ok {
				if walkOnce {
					return
				}
				next = ""
				continue
			}
			w.st.latency.record(int64(a.elapsed))
			w.st.pages++
			w.count(int64(sum.objects))
			w.st.sizes.record(int64(len(a.body)))
			w.st.keep(a.body, sum.objects)
			next = ""
			if sum.more {
				next = sum.next
			} else if walkOnce {
				return
			}
		}
	})
	res := newPhaseResult(name, t, cfg.PullClients, st, elapsed)
	res.kind, res.Limit = "pull", limit
	return res
}

// taxiiTimestamp is the form of added_after the pollers send: TAXII 2.1
// timestamps with microseconds, as taxiid writes date_added.
const taxiiTimestamp = "2006-01-02T15:04:05.000000Z"

// poll is the poll phase: each poller asks for the objects added after the
// last date_added it saw (the X-TAXII-Date-Added-Last of its previous
// answer), at once while answers have more, else after PollInterval. With
// poll-from now and nothing pushed meanwhile, every answer is empty: the
// steady state of many partners polling a hub.
func (r *benchRun) poll(ctx context.Context, t *benchTarget, model *phaseResult) *phaseResult {
	cfg := r.cfg
	ctx, cancel := phaseContext(ctx, cfg.PollDuration)
	defer cancel()
	name := "poll"
	if cfg.PollInterval > 0 {
		name += " every " + cfg.PollInterval.String()
	}
	from := cfg.PollFrom
	switch from {
	case "now":
		from = time.Now().UTC().Format(taxiiTimestamp)
	case "start":
		from = ""
	}
	st, elapsed := r.runWorkers(ctx, name, t, cfg.Pollers, func(ctx context.Context, w *benchWorker) {
		after := from
		for n := 0; cfg.PollRequests == 0 || n < cfg.PollRequests; n++ {
			u := t.collPath + "objects/"
			if after != "" {
				u += "?added_after=" + url.QueryEscape(after)
			}
			a, ok := w.do(ctx, http.MethodGet, u, nil)
			if !ok && ctx.Err() != nil {
				return
			}
			if ok {
				sum, err := scanEnvelope(a.body)
				if err != nil {
					w.fail("bad answer", "page: "+err.Error())
				} else {
					w.st.latency.record(int64(a.elapsed))
					w.st.pages++
					w.count(int64(sum.objects))
					if sum.objects == 0 {
						w.st.empty++
					}
					w.st.sizes.record(int64(len(a.body)))
					w.st.keep(a.body, sum.objects)
					if last := a.header.Get("X-TAXII-Date-Added-Last"); last != "" {
						after = last
					}
					if sum.more {
						continue
					}
				}
			}
			sleep(ctx, cfg.PollInterval)
		}
	})
	res := newPhaseResult(name, t, cfg.Pollers, st, elapsed)
	res.kind = "poll"
	return res
}
