package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/taxiid/taxiid/collections/mirror"
)

// adminSourcesUsage is the part of `taxiid admin` help about sources.
const adminSourcesUsage = `  sources list | get NAME | delete NAME   remote TAXII 2.1 collections mirrored here (get: status,
                                          newest rejections and batches)
          create NAME (--url COLLECTION-URL | (--api-root-url URL | --discovery-url URL) --collection-id ID)
                 --api-root PATH --collection ID|ALIAS [--interval 5m]
                 [--username USER --password-stdin | --token-stdin]
                 [--cert FILE --key FILE] [--ca FILE] [--allow-http]
                 [--direction pull|push [--max-tlp LEVEL]]
`

// sources is the mirror service on the command's store.
func (c *adminCLI) sources() (*mirror.Service, error) {
	ms, err := mirrorStore(c.store)
	if err != nil {
		return nil, err
	}
	return mirror.NewService(ms, c.store), nil
}

// sourceVerbs are the verbs of `taxiid admin sources`.
func (c *adminCLI) sourceVerbs() map[string]adminVerb {
	with := func(n int, run func(svc *mirror.Service, pos []string) (any, error)) adminVerb {
		return oneVerb(n, func(pos []string) (any, error) {
			svc, err := c.sources()
			if err != nil {
				return nil, err
			}
			return run(svc, pos)
		})
	}
	return map[string]adminVerb{
		"list": with(0, func(svc *mirror.Service, _ []string) (any, error) {
			all, err := svc.Sources(c.ctx)
			if err != nil {
				return nil, err
			}
			return map[string]any{"items": all}, nil
		}),
		"get": with(1, func(svc *mirror.Service, pos []string) (any, error) { return svc.Source(c.ctx, pos[0]) }),
		"delete": with(1, func(svc *mirror.Service, pos []string) (any, error) {
			return nil, svc.DeleteSource(c.ctx, pos[0])
		}),
		"create": c.sourceCreate,
	}
}

// sourceCreate is `taxiid admin sources create NAME ...`. Secrets are read
// from standard input, never from the command line (which other users of
// the machine can see).
func (c *adminCLI) sourceCreate(fs *flag.FlagSet) func([]string) (any, error) {
	var in mirror.SourceInput
	fs.StringVar(&in.URL, "url", "", "the remote collection's URL (<api-root>/collections/<id>/)")
	fs.StringVar(&in.APIRootURL, "api-root-url", "", "the remote API root's URL, with --collection-id")
	fs.StringVar(&in.DiscoveryURL, "discovery-url", "", "the remote's discovery URL, with --collection-id: the collection in its default API root")
	fs.StringVar(&in.CollectionID, "collection-id", "", "the remote collection's id, with --api-root-url or --discovery-url")
	fs.StringVar(&in.Username, "username", "", "HTTP Basic user name at the remote (the password from standard input)")
	passwordStdin := fs.Bool("password-stdin", false, "read the remote password from the first line of standard input")
	tokenStdin := fs.Bool("token-stdin", false, "read a bearer token for the remote from the first line of standard input")
	fs.StringVar(&in.CertFile, "cert", "", "client certificate (PEM) presented to the remote")
	fs.StringVar(&in.KeyFile, "key", "", "key of the client certificate (PEM)")
	fs.StringVar(&in.CAFile, "ca", "", "CA certificates (PEM) verifying the remote (default: the system's)")
	fs.BoolVar(&in.AllowHTTP, "allow-http", false, "allow plain http to a host that is not a loopback address")
	fs.StringVar(&in.APIRoot, "api-root", "", "API root of the local collection (required)")
	fs.StringVar(&in.Collection, "collection", "", "local collection id or alias (required)")
	fs.StringVar(&in.Interval, "interval", "", "time between pulls once caught up (default 5m)")
	fs.StringVar(&in.MaxTLP, "max-tlp", "", "push only: the highest TLP level forwarded (clear, green, amber, amber+strict, red; default every level)")
	fs.StringVar(&in.Direction, "direction", "pull", "pull (the remote fills the local collection) or push (the local collection is forwarded to the remote)")
	return func(pos []string) (any, error) {
		if err := wantArgs(pos, 1); err != nil {
			return nil, err
		}
		in.Name = pos[0]
		if *passwordStdin && *tokenStdin {
			return nil, errors.New("--password-stdin or --token-stdin, not both")
		}
		if *passwordStdin || *tokenStdin {
			line, err := bufio.NewReader(c.stdin).ReadString('\n')
			line = strings.TrimRight(line, "\r\n")
			if line == "" {
				return nil, fmt.Errorf("no secret on standard input: %v", err)
			}
			if *passwordStdin {
				in.Password = line
			} else {
				in.Token = line
			}
		}
		svc, err := c.sources()
		if err != nil {
			return nil, err
		}
		return svc.CreateSource(c.ctx, in)
	}
}
