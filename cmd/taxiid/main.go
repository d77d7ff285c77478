// Command taxiid is a STIX/TAXII 2.1 threat-intelligence sharing server.
//
//	taxiid [serve] [flags]          run the server (the default command)
//	taxiid validate [flags] FILE... check STIX objects, bundles or envelopes
//	taxiid admin RESOURCE VERB ...  manage organizations, users, tokens, grants,
//	                                API roots and collections in the store
//	taxiid import [flags] FILE...   store the objects of bundles in a collection
//	taxiid export [flags]           write the objects of a collection as a bundle
//	taxiid mirror [--once SOURCE]   pull (or push) mirrored remote TAXII collections
//	taxiid version                  print the version, commit and build date
//	taxiid healthcheck [flags]      exit 0 if the configured server answers /healthz
//	taxiid bench [flags]            measure a running server under load
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/mirror"
	"github.com/taxiid/taxiid/stix"
	"github.com/taxiid/taxiid/taxii"
)

func main() {
	if os.Getenv("GOGC") == "" {
		tuneGC()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal a second one ends the process at once.
		<-ctx.Done()
		stop()
	}()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		if errors.Is(err, errInvalid) {
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "taxiid:", err)
		os.Exit(1)
	}
}

// run dispatches the subcommand in args.
func run(ctx context.Context, args []string, getenv func(string) string, stderr *os.File) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		cfg, err := parseFlags(args, getenv, stderr)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, newLogger(cfg, stderr), getenv, stderr)
	case "validate":
		return validate(args, os.Stdin, os.Stdout, stderr)
	case "admin":
		return adminCommand(ctx, args, getenv, os.Stdin, os.Stdout, stderr)
	case "import":
		return importCommand(ctx, args, getenv, os.Stdin, os.Stdout, stderr)
	case "export":
		return exportCommand(ctx, args, getenv, os.Stdout, stderr)
	case "mirror":
		return mirrorCommand(ctx, args, getenv, os.Stdout, stderr)
	case "version":
		if len(args) > 0 {
			return fmt.Errorf("version takes no arguments")
		}
		printVersion(os.Stdout, currentBuild())
		return nil
	case "healthcheck":
		return healthcheck(ctx, args, getenv, stderr)
	case "bench":
		return bench(ctx, args, getenv, os.Stdout, stderr)
	default:
		return fmt.Errorf("unknown command %q (commands: serve, validate, admin, import, export, mirror, version, healthcheck, bench)", cmd)
	}
}

// newLogger returns the server's logger, as --log-level and --log-format
// say.
func newLogger(cfg Config, w io.Writer) *slog.Logger {
	o := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// serve runs the server until ctx is cancelled, then shuts down (see
// shutdown) and closes the store. getenv and stderr serve the first start
// of a new store (bootstrapAdmin).
//
// While MongoDB is unreachable at start, every step that needs it is
// retried (untilAvailable) until it answers or the process is told to
// stop, which then ends it without an error.
func serve(ctx context.Context, cfg Config, logger *slog.Logger, getenv func(string) string, stderr io.Writer) error {
	loc := cfg.store()
	store, err := openServeStore(ctx, loc, logger)
	if errors.Is(err, errStopped) {
		logger.Info("stopped before the store could be reached", loc.logAttrs()...)
		return nil
	}
	if err != nil {
		return err
	}
	defer store.Close()
	err = serveStore(ctx, cfg, loc, store, logger, getenv, stderr)
	if errors.Is(err, errStopped) {
		logger.Info("stopped before the store could be reached", loc.logAttrs()...)
		return nil
	}
	return err
}

// serveStore runs the server on an open store.
func serveStore(ctx context.Context, cfg Config, loc storeLocation, store Store, logger *slog.Logger, getenv func(string) string, stderr io.Writer) error {
	retry := func(what string, step func(context.Context) error) error {
		return untilAvailable(ctx, logger, loc, what, step)
	}
	err := retry("declare API roots and collections", func(ctx context.Context) error {
		return declare(ctx, store, cfg.File)
	})
	if err != nil {
		return err
	}
	err = retry("first user", func(ctx context.Context) error {
		return bootstrapAdmin(ctx, store, getenv, stderr, logger)
	})
	if err != nil {
		return fmt.Errorf("first user: %w", err)
	}
	// What serves requests reaches the store through its metrics.
	m := newMetrics(cfg)
	measured, principals := m.CollectionsStore(store), m.AuthzStore(store)
	limiter, err := newRateLimiter(cfg, principals, logger)
	if err != nil {
		return err
	}
	access, err := startAccessControl(ctx, principals, cfg, limiter, logger, retry)
	if err != nil {
		return err
	}
	defer access.close()
	validator, err := stix.NewValidator(stix.Options{SchemaDir: cfg.SchemaDir})
	if err != nil {
		return err
	}
	ingester := collections.NewIngester(measured, validator, observeIngest(ingestConfig(cfg, logger), m))

	// Near the soft memory limit the collector works harder rather than
	// let the heap grow past it; when the server is quiet its memory goes
	// back to the operating system.
	debug.SetMemoryLimit(int64(cfg.MaxMemory))
	go releaseWhenIdle(ctx, logger)

	admin, err := adminService(store, cfg.File, access.watcher.Refresh, logger)
	if err != nil {
		return err
	}
	hooks, err := newWebhooks(ctx, cfg, store, measured, access.authorizer, m, logger, retry)
	if err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	defer hooks.close()
	mstore, err := mirrorStore(store)
	if err != nil {
		return err
	}
	sources := mirror.NewService(mstore, measured)
	m.MirrorSources(mirrorMetrics(sources))
	proxies, _ := parseTrustedProxies(cfg.TrustedProxies) // checked by parseFlags
	var srv *taxii.Server
	err = retry("pagination key", func(ctx context.Context) error {
		var err error
		srv, err = taxii.New(ctx, taxii.Config{
			Store:          measured,
			Ingester:       ingester,
			Authorizer:     access.authorizer,
			Authenticator:  access.authenticator,
			Audit:          access.audit,
			Admin:          admin,
			Grants:         principals,
			Webhooks:       hooks.service,
			Sources:        sources,
			HubIdentity:    cfg.HubIdentity,
			Logger:         logger,
			Title:          cfg.File.Title,
			Description:    cfg.File.Description,
			Contact:        cfg.File.Contact,
			DefaultAPIRoot: cfg.File.DefaultAPIRoot,
			PageSize:       cfg.PageSize,
			MaxPageSize:    cfg.MaxPageSize,
			MaxMemory:      cfg.requestMemory(),
			Ready:          store.Ping,
			RateLimiter:    limiter,

			Metrics:            m,
			MetricsToken:       cfg.MetricsToken,
			MetricsOwnListener: cfg.MetricsListen != "",
			TrustedProxies:     proxies,
			MaxWait:            cfg.maxWait(),
			MaxWaits:           cfg.MaxWaits,
			MaxWaitsPerUser:    cfg.MaxWaitsPerUser,
		})
		return err
	})
	if err != nil {
		return err
	}
	stopMetrics, err := serveMetrics(ctx, cfg, srv, logger)
	if err != nil {
		return err
	}
	defer stopMetrics()

	tcp, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	ln := newLimitListener(tcp, connectionCap(cfg.MaxConnections, raiseFileLimit(), logger), cfg.MaxConnectionsPerIP, logger)
	served, scheme, err := listenTLS(ctx, cfg.TLS, ln, logger)
	if err != nil {
		ln.Close()
		return err
	}
	// Timeouts: a client has 10 s to send its headers and a kept-alive
	// connection closes after 2 min without a request. There is no global
	// ReadTimeout or WriteTimeout: they would cut large honest uploads and
	// pages at a fixed time whatever the rate, so the TAXII handlers set
	// their own body deadlines from a minimum transfer rate.
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	// Requests waiting for new objects are answered as the shutdown
	// begins, rather than holding it for up to max-wait.
	hs.RegisterOnShutdown(srv.StopWaiting)
	logger.Info("taxiid listening", append(append([]any{"addr", scheme + "://" + ln.Addr().String() + "/taxii2/"}, loc.logAttrs()...),
		"max_connections", ln.max, "max_connections_per_ip", ln.perIP, "max_memory", cfg.MaxMemory)...)

	// Finish pushes a previous run left pending, and keep watching for
	// those of replicas that stop. Started last, so that every return
	// above leaves nothing running.
	if err := retry("recover interrupted pushes", ingester.Start); err != nil {
		ln.Close()
		if errors.Is(err, errStopped) {
			return err
		}
		return fmt.Errorf("recover interrupted pushes: %w", err)
	}
	hooks.start(ctx)
	// Pull mirrored sources (stopped after the server, before the store
	// closes).
	defer startMirror(ctx, sources, ingester, logger, 0)()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(served) }()
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
		if cfg.DrainDelay > 0 {
			srv.Drain()
			logger.Info("draining: not ready, still serving", "for", cfg.DrainDelay)
			select {
			case serveErr = <-errc:
			case <-time.After(cfg.DrainDelay):
			}
		}
	}
	shutdown(hs, ln, ingester, cfg.ShutdownTimeout, logger)
	return serveErr
}

// accessControl is what enforces who may do what: the watcher of the
// store's policy generation, the authorizer and authenticator that follow
// it, and the audit log.
type accessControl struct {
	watcher       *authz.Watcher
	authorizer    *authz.Authorizer
	authenticator *authz.Authenticator
	audit         *authz.AuditLog
}

// startAccessControl builds the access control of the store and loads its
// policy, through retry; changes made by any process on the store are
// enforced here within a second. limiter, when not nil, bounds failed
// sign-ins per source address.
func startAccessControl(ctx context.Context, store authz.Store, cfg Config, limiter *taxii.RateLimiter, logger *slog.Logger,
	retry func(what string, step func(context.Context) error) error) (*accessControl, error) {
	a := &accessControl{watcher: authz.NewWatcher(store, 0, logger)}
	var err error
	if a.authorizer, err = authz.NewAuthorizer(store, a.watcher, logger); err != nil {
		return nil, err
	}
	ac := authz.AuthenticatorConfig{Store: store, Watcher: a.watcher, Log: logger}
	if limiter != nil {
		ac.Admission = limiter // failed sign-ins are bounded per source address
	}
	if cfg.TLS.ClientCAFile != "" {
		// Verified client certificates stand for the users their
		// identities are bound to.
		ac.Certificates = authz.NewCertificateMapper(store)
	}
	if a.authenticator, err = authz.NewAuthenticator(ac); err != nil {
		return nil, err
	}
	retention := time.Duration(cfg.AuditRetention)
	if retention == 0 {
		retention = -1 // for ever
	}
	if a.audit, err = authz.NewAuditLog(authz.AuditLogConfig{Store: store, Log: logger, Retention: retention}); err != nil {
		a.authenticator.Close()
		return nil, err
	}
	if err := retry("load access policy", a.watcher.Start); err != nil {
		a.close()
		if errors.Is(err, errStopped) {
			return nil, err
		}
		return nil, fmt.Errorf("load access policy: %w", err)
	}
	return a, nil
}

// close stops the watcher and writes what the authenticator (token
// last-used times) and the audit log hold; it runs after the server has
// stopped serving and before the store closes.
func (a *accessControl) close() {
	a.watcher.Close()
	a.authenticator.Close()
	a.audit.Close()
}

// shutdown stops the server within grace: it stops accepting, lets the
// requests in flight and the background ingestion finish, and when grace
// runs out closes the connections still open and stops waiting. A client
// that stalls its request is not the server's failure: shutdown reports
// what it cut in the log and the process still exits with status 0.
func shutdown(hs *http.Server, ln *limitListener, ingester *collections.Ingester, grace time.Duration, logger *slog.Logger) {
	logger.Info("shutting down", "grace", grace)
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		open := ln.Open()
		hs.Close()
		if ctx.Err() == nil {
			logger.Warn("shutdown", "err", err)
		}
		logger.Warn("closed the connections of requests still in flight", "connections", open)
	}
	if ingester.Shutdown(ctx) != nil {
		logger.Warn("shutdown grace over: background ingestion interrupted")
	}
}

// maxHeaderBytes caps the request line and headers the HTTP server reads
// (Go adds 4 KiB to it); beyond it net/http answers a plain-text 431 and
// closes the connection. Go's default, 1 MiB, would let the connections of
// one source hold hundreds of MiB of headers. The TAXII handlers bound
// headers lower, at 64 KiB, and answer a 431 error resource; this cap is
// above theirs so that most oversized requests get that answer.
const maxHeaderBytes = 128 << 10

// fdHeadroom is the number of file descriptors kept out of the connection
// cap: the store's files, the listener, refused connections lingering
// (lingerSlots) and whatever else the process opens.
const fdHeadroom = 256

// connectionCap returns the cap on open connections: the configured one,
// lowered to fit the limit of open files (0 if unknown) less fdHeadroom,
// so that a flood of connections cannot leave the server without
// descriptors for its store.
func connectionCap(configured int, fileLimit uint64, logger *slog.Logger) int {
	if fileLimit == 0 || fileLimit >= uint64(configured)+fdHeadroom {
		return configured
	}
	fit := max(int(fileLimit)-fdHeadroom, 1)
	logger.Warn("max-connections lowered to fit the limit of open files", "max_connections", fit,
		"configured", configured, "open_files_limit", fileLimit)
	return fit
}

// ingestConfig returns the server's default validation level; each
// collection's own level is stored with it (Collection.Validation).
// (Config.validate has checked it.)
func ingestConfig(cfg Config, logger *slog.Logger) collections.IngestConfig {
	ic := collections.IngestConfig{Logger: logger}
	ic.Level, _ = stix.ParseLevel(cfg.Validation)
	return ic
}

// defaultCollectionID is the id of the collection a new store gets when
// the configuration declares none. It is fixed so that replicas starting
// together on one empty store write the same collection (an upsert) and
// end with one, not one each.
const defaultCollectionID = "7c9c9b7d-40f7-4641-808e-afeacea6d340"

// declare writes the API roots and collections of the configuration file
// to the store. Without any, a new store gets one API root with one
// collection so that a new user has something to talk to.
func declare(ctx context.Context, store collections.Store, f FileConfig) error {
	if len(f.APIRoots) == 0 {
		roots, err := store.APIRoots(ctx)
		if err != nil {
			return err
		}
		if len(roots) > 0 {
			return nil
		}
		f.APIRoots = []APIRootConfig{{
			Path:             "api1",
			Title:            "Default API root",
			MaxContentLength: defaultMaxContentLength,
			Collections: []CollectionConfig{{
				ID:         defaultCollectionID,
				Alias:      "default",
				Title:      "Default collection",
				MediaTypes: []string{defaultMediaType},
			}},
		}}
	}
	for _, r := range f.APIRoots {
		err := store.PutAPIRoot(ctx, collections.APIRoot{
			Path: r.Path, Title: r.Title, Description: r.Description, MaxContentLength: r.MaxContentLength,
		})
		if err != nil {
			return fmt.Errorf("declare API root %s: %w", r.Path, err)
		}
		for _, c := range r.Collections {
			err := store.PutCollection(ctx, collections.Collection{
				APIRoot: r.Path, ID: c.ID, Alias: c.Alias, Title: c.Title, Description: c.Description, MediaTypes: c.MediaTypes,
				Validation: c.Validation, UnmarkedTLP: c.unmarkedTLP(),
			})
			if err != nil {
				return fmt.Errorf("declare collection %s/%s: %w", r.Path, c.ID, err)
			}
		}
	}
	return nil
}
