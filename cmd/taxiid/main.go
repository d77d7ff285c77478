// Command taxiid is a STIX/TAXII 2.1 threat-intelligence sharing server.
//
//	taxiid [serve] [flags]          run the server (the default command)
//	taxiid validate [flags] FILE... check STIX objects, bundles or envelopes
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/sqlite"
	"github.com/taxiid/taxiid/stix"
	"github.com/taxiid/taxiid/taxii"
)

// gcPercent is the server's GOGC unless the environment sets one. Its live
// heap is small (SQLite's page cache is outside it) while every page served
// allocates about as much again as it sends, so the default of 100 spends a
// fifth of the CPU in garbage collection; 400 trades some memory for it.
const gcPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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
		logger := slog.New(slog.NewTextHandler(stderr, nil))
		return serve(ctx, cfg, logger)
	case "validate":
		return validate(args, os.Stdin, os.Stdout, stderr)
	default:
		return fmt.Errorf("unknown command %q (commands: serve, validate)", cmd)
	}
}

// serve runs the server until ctx is cancelled, then shuts down gracefully:
// in-flight requests and background ingestion finish, the store closes.
func serve(ctx context.Context, cfg Config, logger *slog.Logger) error {
	if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(cfg.Data, "taxiid.db"))
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer store.Close()

	if err := declare(ctx, store, cfg.File); err != nil {
		return err
	}
	validator, err := stix.NewValidator(stix.Options{SchemaDir: cfg.SchemaDir})
	if err != nil {
		return err
	}
	ingester := collections.NewIngester(store, validator, ingestConfig(cfg, logger))
	defer ingester.Wait()

	srv, err := taxii.New(ctx, taxii.Config{
		Store:          store,
		Ingester:       ingester,
		Authorizer:     authz.AllowAll{},
		Logger:         logger,
		Title:          cfg.File.Title,
		Description:    cfg.File.Description,
		Contact:        cfg.File.Contact,
		DefaultAPIRoot: cfg.File.DefaultAPIRoot,
		PageSize:       cfg.PageSize,
		MaxPageSize:    cfg.MaxPageSize,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("taxiid listening", "addr", "http://"+ln.Addr().String()+"/taxii2/", "data", cfg.Data)

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// ingestConfig returns the server's default validation level; each
// collection's own level is stored with it (Collection.Validation).
// (Config.validate has checked it.)
func ingestConfig(cfg Config, logger *slog.Logger) collections.IngestConfig {
	ic := collections.IngestConfig{Logger: logger}
	ic.Level, _ = stix.ParseLevel(cfg.Validation)
	return ic
}

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
				ID:         uuid.NewString(),
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
				Validation: c.Validation,
			})
			if err != nil {
				return fmt.Errorf("declare collection %s/%s: %w", r.Path, c.ID, err)
			}
		}
	}
	return nil
}
