package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/webhook"
	"github.com/taxiid/taxiid/taxii"
	"github.com/taxiid/taxiid/taxii/metrics"
)

// webhookFlags configure webhook notifications.
type webhookFlags struct {
	// AllowHosts are hosts (host or host:port, comma-separated) that
	// subscriptions may name although they resolve to internal addresses
	// or use plain HTTP.
	AllowHosts string
	// CAFile is a PEM file of the authorities receivers' certificates
	// chain to, in addition to the system's.
	CAFile string
	// PublicURL is where partners reach this server, for the objects link
	// of notifications; empty: the link is a path.
	PublicURL string
}

// register defines the webhook flags on fs, their defaults from the
// environment.
func (w *webhookFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&w.AllowHosts, "webhook-allow-hosts", getenv("TAXIID_WEBHOOK_ALLOW_HOSTS"), "hosts, comma-separated, as host or host:port, that webhook subscriptions may name although they resolve to loopback, private or link-local addresses, or use plain HTTP (env TAXIID_WEBHOOK_ALLOW_HOSTS)")
	fs.StringVar(&w.CAFile, "webhook-ca", getenv("TAXIID_WEBHOOK_CA"), "PEM `file` of certificate authorities webhook receivers' certificates may chain to, besides the system's (env TAXIID_WEBHOOK_CA)")
	fs.StringVar(&w.PublicURL, "public-url", getenv("TAXIID_PUBLIC_URL"), "URL partners reach this server at, such as https://taxii.example.org, for the links in webhook notifications; without it they are paths (env TAXIID_PUBLIC_URL)")
}

// validate returns the problems of the webhook settings.
func (w *webhookFlags) validate() []string {
	var problems []string
	if w.PublicURL != "" {
		u, err := url.Parse(w.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			problems = append(problems, fmt.Sprintf("public-url %q is not an http(s) URL without query", w.PublicURL))
		}
	}
	if w.CAFile != "" {
		if _, err := w.roots(); err != nil {
			problems = append(problems, err.Error())
		}
	}
	return problems
}

func (w *webhookFlags) hosts() []string {
	var out []string
	for h := range strings.SplitSeq(w.AllowHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

// roots returns the system's authorities and those of CAFile; nil
// (the system's) without CAFile.
func (w *webhookFlags) roots() (*x509.CertPool, error) {
	if w.CAFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(w.CAFile)
	if err != nil {
		return nil, fmt.Errorf("webhook-ca: %v", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("webhook-ca: %s holds no PEM certificate", w.CAFile)
	}
	return pool, nil
}

// webhooks is the webhook service of the admin API and the worker that
// sends the notifications.
type webhooks struct {
	service *webhook.Service
	worker  *webhook.Worker
	stop    context.CancelFunc
	done    chan struct{}
}

// newWebhooks builds the webhook service and worker on the store (through
// retry, for the sealing key). objects is the store the worker reads new
// versions from.
func newWebhooks(ctx context.Context, cfg Config, store Store, objects collections.Store, az *authz.Authorizer,
	m *metrics.Metrics, logger *slog.Logger, retry func(what string, step func(context.Context) error) error) (*webhooks, error) {
	subs, ok := store.(webhook.Store)
	if !ok {
		return nil, fmt.Errorf("the store keeps no webhook subscriptions")
	}
	var key []byte
	err := retry("webhook sealing key", func(ctx context.Context) (err error) {
		key, err = store.Secret(ctx, webhook.SealKeyName, webhook.NewSealKey)
		return err
	})
	if err != nil {
		return nil, err
	}
	sealer, err := webhook.NewSealer(key)
	if err != nil {
		return nil, err
	}
	roots, err := cfg.Webhooks.roots()
	if err != nil {
		return nil, err
	}
	guard := &webhook.Guard{AllowHosts: cfg.Webhooks.hosts()}
	access := taxii.WebhookAccess(az)
	owner, err := processName()
	if err != nil {
		return nil, err
	}
	var observer webhook.Observer
	if m != nil { // a nil *WebhookMetrics in the interface would be a non-nil observer
		observer = metrics.NewWebhookMetrics(m)
	}
	w, err := webhook.NewWorker(subs, objects, access, sealer, webhook.Options{
		Owner: owner, BaseURL: cfg.Webhooks.PublicURL, Log: logger, Observer: observer,
		Client: guard.Client(webhook.ClientOptions{Timeout: webhook.DefaultTimeout, RootCAs: roots}),
	})
	if err != nil {
		return nil, err
	}
	return &webhooks{
		service: &webhook.Service{Store: subs, Objects: objects, Sealer: sealer, Guard: guard, Access: access},
		worker:  w,
	}, nil
}

// start runs the worker until close.
func (h *webhooks) start(ctx context.Context) {
	ctx, h.stop = context.WithCancel(ctx)
	h.done = make(chan struct{})
	go func() {
		defer close(h.done)
		h.worker.Run(ctx)
	}()
}

// close stops the worker: attempts under way end, and its leases are
// released for the other processes.
func (h *webhooks) close() {
	if h.stop == nil {
		return
	}
	h.stop()
	<-h.done
}

// processName names this process in leases: host name, process id and a
// random suffix, so that a restarted process is another holder.
func processName() (string, error) {
	host, _ := os.Hostname()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:])), nil
}
