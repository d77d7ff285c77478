package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MirrorSource is what the metrics show of one mirrored source: its
// counters and health as the store has them (every process on the store
// reports the same values, whichever pulls).
type MirrorSource struct {
	Name                       string
	Added, Unchanged, Rejected int64
	Pages                      int64
	LastSuccess, LastError     time.Time // zero: never
	Failing                    bool      // the last pull failed
	Lag                        time.Duration
}

// mirrorScrapeTimeout bounds the store reads of one scrape.
const mirrorScrapeTimeout = 5 * time.Second

var (
	mirrorObjects = prometheus.NewDesc(namespace+"_mirror_objects_total",
		"Objects pulled from a mirrored source, by what became of them (added, unchanged, rejected).", []string{"source", "outcome"}, nil)
	mirrorPages = prometheus.NewDesc(namespace+"_mirror_pages_total",
		"Pages pulled and stored from a mirrored source.", []string{"source"}, nil)
	mirrorLastSuccess = prometheus.NewDesc(namespace+"_mirror_last_success_timestamp_seconds",
		"When a pull of the source last caught up (0: never).", []string{"source"}, nil)
	mirrorLastError = prometheus.NewDesc(namespace+"_mirror_last_error_timestamp_seconds",
		"When a pull of the source last failed, since its last success (0: none).", []string{"source"}, nil)
	mirrorFailing = prometheus.NewDesc(namespace+"_mirror_failing",
		"1 when the last pull of the source failed.", []string{"source"}, nil)
	mirrorLag = prometheus.NewDesc(namespace+"_mirror_lag_seconds",
		"Time since the source was last caught up (since it was declared when never).", []string{"source"}, nil)
)

// mirrorCollector reads the sources at each scrape.
type mirrorCollector struct {
	read func(ctx context.Context) ([]MirrorSource, error)
}

func (c mirrorCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{mirrorObjects, mirrorPages, mirrorLastSuccess, mirrorLastError, mirrorFailing, mirrorLag} {
		ch <- d
	}
}

func (c mirrorCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), mirrorScrapeTimeout)
	defer cancel()
	sources, err := c.read(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(mirrorObjects, err)
		return
	}
	secs := func(t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return float64(t.UnixNano()) / 1e9
	}
	for _, s := range sources {
		for _, o := range []struct {
			outcome string
			n       int64
		}{{"added", s.Added}, {"unchanged", s.Unchanged}, {"rejected", s.Rejected}} {
			ch <- prometheus.MustNewConstMetric(mirrorObjects, prometheus.CounterValue, float64(o.n), s.Name, o.outcome)
		}
		ch <- prometheus.MustNewConstMetric(mirrorPages, prometheus.CounterValue, float64(s.Pages), s.Name)
		ch <- prometheus.MustNewConstMetric(mirrorLastSuccess, prometheus.GaugeValue, secs(s.LastSuccess), s.Name)
		ch <- prometheus.MustNewConstMetric(mirrorLastError, prometheus.GaugeValue, secs(s.LastError), s.Name)
		failing := 0.0
		if s.Failing {
			failing = 1
		}
		ch <- prometheus.MustNewConstMetric(mirrorFailing, prometheus.GaugeValue, failing, s.Name)
		ch <- prometheus.MustNewConstMetric(mirrorLag, prometheus.GaugeValue, s.Lag.Seconds(), s.Name)
	}
}

// MirrorSources has the metrics show the mirrored sources read reports,
// at each scrape. Call it once.
func (m *Metrics) MirrorSources(read func(ctx context.Context) ([]MirrorSource, error)) {
	if m == nil {
		return
	}
	m.reg.MustRegister(mirrorCollector{read: read})
}
