package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// benchReport is the outcome of one taxiid bench, as --json prints it.
type benchReport struct {
	URL         string         `json:"url"`
	APIRoot     string         `json:"api_root"`
	Collection  string         `json:"collection"`
	Started     time.Time      `json:"started"`
	CPUs        int            `json:"cpus"`
	LoadStart   []float64      `json:"load_average_start"`
	LoadEnd     []float64      `json:"load_average_end"`
	Duration    float64        `json:"duration_s"`
	Interrupted bool           `json:"interrupted"`
	Phases      []*phaseResult `json:"phases"`
}

// phaseResult is what one phase measured on one target.
type phaseResult struct {
	Name   string `json:"name"`   // push, pull limit=100, poll
	Target string `json:"target"` // server or yardstick
	// Clients are the load clients: pushers, pullers or pollers.
	Clients  int `json:"clients"`
	Envelope int `json:"envelope,omitempty"` // objects per pushed envelope
	Limit    int `json:"limit,omitempty"`    // page limit of a pull
	// Duration is the time from the first request to the end of the
	// last client, in seconds.
	Duration float64 `json:"duration_s"`
	// Requests counts every request answered or failed, status reads of
	// pushes included; Pages the pages read (pull, poll) or envelopes
	// pushed and complete (push); Objects the objects in those pages, or
	// the objects the server reported stored (on the yardstick: sent).
	Requests       int64   `json:"requests"`
	Pages          int64   `json:"pages"`
	Objects        int64   `json:"objects"`
	Rejected       int64   `json:"rejected_objects"`
	EmptyAnswers   int64   `json:"empty_answers"`
	BytesReceived  int64   `json:"bytes_received"`
	RequestsPerSec float64 `json:"requests_per_s"`
	PagesPerSec    float64 `json:"pages_per_s"`
	ObjectsPerSec  float64 `json:"objects_per_s"`
	// MedianBytes is the median size of the answers: of the pages, or of
	// the final statuses of pushes; the yardstick served this size.
	MedianBytes int64 `json:"median_answer_bytes"`
	// Latency of the successful requests (pushes: from the POST to the
	// complete status).
	Latency latencySummary `json:"latency_ms"`
	// Errors counts the failed requests by HTTP status code, or by
	// "timeout", "refused", "transport", "bad answer", "status timeout";
	// ErrorSamples has the first message of each.
	Errors       map[string]int64  `json:"errors"`
	ErrorSamples map[string]string `json:"error_samples,omitempty"`
	// SourceError is why the push could not read its input.
	SourceError string `json:"source_error,omitempty"`
	// ServerRSSMiB is the resident memory of the server process at the
	// end of the phase, ServerPeakRSSMiB its peak during the phase.
	ServerRSSMiB     float64 `json:"server_rss_mib,omitempty"`
	ServerPeakRSSMiB float64 `json:"server_peak_rss_mib,omitempty"`
	// ServerCPU is the CPU time of the server process during the phase
	// (when its process id is known), in seconds; BenchCPU that of the
	// bench process (its clients and, on the yardstick, the yardstick).
	// On a shared machine, CPU time per operation moves less than rates.
	ServerCPU   float64 `json:"server_cpu_s,omitempty"`
	BenchCPU    float64 `json:"bench_cpu_s"`
	LoadAverage float64 `json:"load_average"`
	Interrupted bool    `json:"interrupted,omitempty"`

	kind   string // push, pull or poll
	sample []byte
}

type latencySummary struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func seconds(d time.Duration) float64 { return d.Seconds() }

func ms(ns int64) float64 { return float64(ns) / 1e6 }

func newPhaseResult(name string, t *benchTarget, clients int, st phaseStats, elapsed time.Duration) *phaseResult {
	res := &phaseResult{
		Name: name, Target: t.name, Clients: clients, Duration: seconds(elapsed),
		Requests: st.requests, Pages: st.pages, Objects: st.objects, Rejected: st.rejected,
		EmptyAnswers: st.empty, BytesReceived: st.bytesIn,
		MedianBytes: st.sizes.quantile(0.5),
		Latency: latencySummary{
			P50: ms(st.latency.quantile(0.5)), P90: ms(st.latency.quantile(0.9)),
			P99: ms(st.latency.quantile(0.99)), Max: ms(st.latency.max),
		},
		Errors: st.errors, ErrorSamples: st.errorSamples,
		sample: st.sample,
	}
	if res.Errors == nil {
		res.Errors = map[string]int64{}
	}
	if s := elapsed.Seconds(); s > 0 {
		res.RequestsPerSec = float64(st.requests) / s
		res.PagesPerSec = float64(st.pages) / s
		res.ObjectsPerSec = float64(st.objects) / s
	}
	return res
}

// serverCPUPerOp is the server's CPU time per object pushed, page
// pulled or request polled.
func (p *phaseResult) serverCPUPerOp() string {
	n, unit := p.Requests, "request"
	switch p.kind {
	case "push":
		n, unit = p.Objects, "object"
	case "pull":
		n, unit = p.Pages, "page"
	}
	if n == 0 {
		return ""
	}
	return latency(p.ServerCPU*1000/float64(n)) + "/" + unit
}

// failures is the number of failed requests of the phase.
func (p *phaseResult) failures() int64 {
	var n int64
	for _, v := range p.Errors {
		n += v
	}
	return n
}

// failed reports whether a request failed or a push could not read its
// input.
func (r *benchReport) failed() bool {
	for _, p := range r.Phases {
		if p.failures() > 0 || p.SourceError != "" {
			return true
		}
	}
	return false
}

// yardstickAnswer is what the yardstick serves in the twin of the phase:
// an answer of the phase's median size built from its sample. A page
// keeps as many of the sample's objects as fit; a pull's page says more,
// with the sample's next, so that its clients go on following next; the
// rest is whitespace,
// which JSON allows after the value.
func (p *phaseResult) yardstickAnswer() yardstickAnswer {
	status, body := 200, p.sample
	switch p.kind {
	case "push":
		status = 202
	default:
		var page struct {
			Next    string            `json:"next"`
			Objects []json.RawMessage `json:"objects"`
		}
		json.Unmarshal(p.sample, &page)
		head := "{"
		if p.kind == "pull" {
			// The server's own token, when the sample has one, so that
			// the requests are as long as the server's.
			next, _ := json.Marshal(cmp.Or(page.Next, "yardstick"))
			head = `{"more":true,"next":` + string(next)
		}
		build := func(objs []json.RawMessage) []byte {
			var b bytes.Buffer
			b.WriteString(head)
			if len(objs) > 0 {
				if head != "{" {
					b.WriteByte(',')
				}
				b.WriteString(`"objects":[`)
				for i, o := range objs {
					if i > 0 {
						b.WriteByte(',')
					}
					b.Write(o)
				}
				b.WriteByte(']')
			}
			b.WriteByte('}')
			return b.Bytes()
		}
		objs := page.Objects
		body = build(objs)
		for len(objs) > 0 && int64(len(body)) > p.MedianBytes {
			objs = objs[:len(objs)-1]
			body = build(objs)
		}
	}
	if pad := p.MedianBytes - int64(len(body)); pad > 0 {
		body = append(bytes.Clone(body), bytes.Repeat([]byte{' '}, int(pad))...)
	}
	return yardstickAnswer{status: status, body: body}
}

func (r *benchReport) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeTable prints the report for people: one line per phase and
// target, then the errors.
func (r *benchReport) writeTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "taxiid bench of %s, API root %s, collection %s\n", r.URL, r.APIRoot, r.Collection)
	fmt.Fprintf(&b, "%s, %d CPUs, load average %s at the start, %s at the end, %.1f s in all\n",
		r.Started.Format(time.RFC3339), r.CPUs, loadString(r.LoadStart), loadString(r.LoadEnd), r.Duration)
	if r.Interrupted {
		b.WriteString("interrupted: the last phase was cut short\n")
	}
	b.WriteByte('\n')
	rows := [][]string{{"phase", "target", "clients", "time", "requests", "req/s", "pages/s", "objects/s", "answer", "p50", "p90", "p99", "max", "errors", "server CPU", "server RSS (peak)"}}
	for _, p := range r.Phases {
		rss, cpu := "", ""
		if p.ServerRSSMiB > 0 {
			rss = fmt.Sprintf("%.0f (%.0f) MiB", p.ServerRSSMiB, p.ServerPeakRSSMiB)
			cpu = p.serverCPUPerOp()
		}
		rows = append(rows, []string{
			p.Name, p.Target, strconv.Itoa(p.Clients), fmt.Sprintf("%.1f s", p.Duration), count(p.Requests),
			rate(p.RequestsPerSec), rate(p.PagesPerSec), rate(p.ObjectsPerSec), byteString(p.MedianBytes),
			latency(p.Latency.P50), latency(p.Latency.P90), latency(p.Latency.P99), latency(p.Latency.Max),
			errorString(p.Errors), cpu, rss,
		})
	}
	writeColumns(&b, rows, 2)
	for _, p := range r.Phases {
		if p.Rejected > 0 {
			fmt.Fprintf(&b, "\n%s on the %s: %d objects rejected by the server (see their statuses)", p.Name, p.Target, p.Rejected)
		}
		if p.SourceError != "" {
			fmt.Fprintf(&b, "\n%s on the %s: %s", p.Name, p.Target, p.SourceError)
		}
		for _, k := range slices.Sorted(maps.Keys(p.ErrorSamples)) {
			fmt.Fprintf(&b, "\n%s on the %s: %s: %s", p.Name, p.Target, k, p.ErrorSamples[k])
		}
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

func loadString(la []float64) string {
	if len(la) == 0 {
		return "unknown"
	}
	s := make([]string, len(la))
	for i, v := range la {
		s[i] = strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strings.Join(s, " ")
}

// rate prints a rate with three significant digits at most below 1,000,
// and in whole units with thousands separated above.
func rate(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return count(int64(v + 0.5))
}

// count prints n with its thousands separated.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func latency(msv float64) string {
	switch {
	case msv == 0:
		return "-"
	case msv < 1:
		return strconv.FormatFloat(msv*1000, 'f', 0, 64) + " µs"
	case msv < 10:
		return strconv.FormatFloat(msv, 'f', 2, 64) + " ms"
	case msv < 100:
		return strconv.FormatFloat(msv, 'f', 1, 64) + " ms"
	case msv < 1000:
		return strconv.FormatFloat(msv, 'f', 0, 64) + " ms"
	case msv < 10_000:
		return strconv.FormatFloat(msv/1000, 'f', 2, 64) + " s"
	}
	return strconv.FormatFloat(msv/1000, 'f', 1, 64) + " s"
}

func byteString(n int64) string {
	switch {
	case n < 1000:
		return strconv.FormatInt(n, 10) + " B"
	case n < 1_000_000:
		return strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64) + " KB"
	}
	return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + " MB"
}

func errorString(errs map[string]int64) string {
	if len(errs) == 0 {
		return "0"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(errs)) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, errs[k]))
	}
	return strings.Join(parts, " ")
}

// writeColumns writes rows as a table: the first left columns aligned
// left, the others right, two spaces apart.
func writeColumns(b *strings.Builder, rows [][]string, left int) {
	var width []int
	for _, row := range rows {
		for i, cell := range row {
			if i == len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range rows {
		var line strings.Builder
		for i, cell := range row {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(cell))
			if i > 0 {
				line.WriteString("  ")
			}
			if i < left {
				line.WriteString(cell + pad)
			} else {
				line.WriteString(pad + cell)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}
