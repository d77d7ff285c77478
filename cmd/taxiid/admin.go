package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/taxiid/taxiid/authz"
)

// declaredSet is what the configuration file declares, which the admin
// service refuses to change (serve writes it back at every start).
func declaredSet(f FileConfig) authz.DeclaredSet {
	d := authz.DeclaredSet{}
	for _, r := range f.APIRoots {
		ids := make([]string, 0, len(r.Collections))
		for _, c := range r.Collections {
			ids = append(ids, c.ID)
		}
		d[r.Path] = ids
	}
	return d
}

// adminService is the administration service of a store: serve's (with
// the watcher's Refresh, so that changes take effect at once) and that of
// `taxiid admin` (refresh nil: running servers see changes within their
// watch interval).
func adminService(store Store, f FileConfig, refresh func(context.Context) error, logger *slog.Logger) (*authz.Admin, error) {
	return authz.NewAdmin(authz.AdminConfig{
		Store: store, Collections: store, Declared: declaredSet(f), Refresh: refresh, Log: logger,
	})
}

// adminUsage is the help of `taxiid admin`.
var adminUsage = fmt.Sprintf(`usage: taxiid admin [--data DIR | --mongo-uri URI [--mongo-database NAME]] [--config FILE]
                    [-o json|table] RESOURCE VERB [ARGS] [FLAGS]

Manages the store directly, without a running server (running servers see
the changes within a second): the embedded store in --data (env
TAXIID_DATA), or MongoDB when --mongo-uri (env TAXIID_MONGO_URI) is set.
ORG and USER are ids or names.

  orgs list | get ORG | create --name NAME [--description TEXT]
       update ORG [--name NAME] [--description TEXT] | delete ORG
       access ORG                      what the organization can reach, and how
  users list [--org ORG] | get USER
       create --name NAME --org ORG [--role admin|org-admin|member] [--disabled]
              [--password-stdin | --generate-password]
       update USER [--name NAME] [--org ORG] [--role ROLE] [--disabled=true|false]
       password USER [--password-stdin]  (a new password is made and shown without it)
       delete USER
       certs list USER                 the certificate identities that stand for the user
       certs add USER IDENTITY [--issuer SHA256 | --issuer-cert CA.pem]
       certs add USER --cert CLIENT.pem [--client-ca FILE | --issuer SHA256 | --issuer-cert CA.pem | --any-issuer]
       certs remove USER BINDING|IDENTITY [--issuer SHA256]
  tokens list USER | get USER TOKEN | revoke USER TOKEN | delete USER TOKEN
         create USER --name NAME [--expires-in DURATION | --expires-at TIME]
  grants list [--org ORG | --user USER | --public] [--api-root PATH] [--collection ID] [--action read|write]
         get GRANT | delete GRANT
         create (--org ORG | --user USER | --public) --api-root PATH --collection ID|ALIAS --action read|write
                [CONDITIONS]                    (add: the same)
         conditions GRANT (CONDITIONS | --clear) replace the sharing conditions of a read grant
         CONDITIONS: [--max-tlp clear|green|amber|amber+strict|red] [--embargo DURATION (24h)]
                     [--hide-creator] [--hide-source NAME]...
  api-roots list | get PATH | delete PATH
            create --path PATH --title TEXT [--description TEXT] [--max-content-length BYTES]
            update PATH [--title TEXT] [--description TEXT] [--max-content-length BYTES]
  collections list ROOT | get ROOT COLL | delete ROOT COLL   (COLL: id or alias)
              access ROOT COLL         who can reach the collection, and how
              create ROOT --title TEXT [--id UUID] [--alias NAME] [--description TEXT]
                     [--media-type TYPE]... [--validation strict|default|permissive]
                     [--unmarked-tlp clear|green|amber|amber+strict|red]
              update ROOT COLL [same flags as create but --id]
  subscriptions list [--org ORG] | get SUB | delete SUB
                create --org ORG --api-root PATH --collection ID|ALIAS --url URL
                       [--webhook-allow-hosts HOSTS]   (the secret is shown this once)
                deliveries SUB [--limit N] | redeliver SUB DELIVERY
%s  audit [--user USER] [--org ORG] [--action ACTION] [--api-root PATH --collection ID]
        [--since TIME|DURATION] [--until TIME|DURATION]

Lists take --limit N (default 100), --cursor NEXT and --all (every page).
Output is JSON, or a table with -o table. Errors go to standard error, with
exit status 1.
`, adminSourcesUsage)

// adminCLI is one run of `taxiid admin`.
type adminCLI struct {
	data, config, output    string
	mongoURI, mongoDatabase string
	stdin                   io.Reader
	stdout, stderr          io.Writer
	getenv                  func(string) string

	store Store
	admin *authz.Admin
	ctx   context.Context
}

// commonFlags binds the flags every admin command takes.
func (c *adminCLI) commonFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.data, "data", c.data, "directory of the embedded store (env TAXIID_DATA)")
	fs.StringVar(&c.mongoURI, "mongo-uri", c.mongoURI, "MongoDB connection string; when set, the store is there and --data is not used (env TAXIID_MONGO_URI)")
	fs.StringVar(&c.mongoDatabase, "mongo-database", c.mongoDatabase, "MongoDB database of the store (env TAXIID_MONGO_DATABASE)")
	fs.StringVar(&c.config, "config", c.config, "configuration file: its API roots and collections cannot be changed here (env TAXIID_CONFIG)")
	fs.StringVar(&c.output, "o", c.output, "output: json or table")
	fs.StringVar(&c.output, "output", c.output, "output: json or table")
}

// adminCommand runs `taxiid admin ARGS`.
func adminCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := &adminCLI{data: defaultData, mongoDatabase: defaultMongoDatabase, output: "json",
		stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	if v := getenv("TAXIID_DATA"); v != "" {
		c.data = v
	}
	c.mongoURI = getenv("TAXIID_MONGO_URI")
	if v := getenv("TAXIID_MONGO_DATABASE"); v != "" {
		c.mongoDatabase = v
	}
	c.config = getenv("TAXIID_CONFIG")
	fs := flag.NewFlagSet("admin", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.commonFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, adminUsage)
			return nil
		}
		return fmt.Errorf("admin: %w", err)
	}
	rest := fs.Args()
	if len(rest) == 0 || rest[0] == "help" {
		fmt.Fprint(stderr, adminUsage)
		return errors.New("admin: name a resource and a verb")
	}
	res, ok := c.resources()[rest[0]]
	if !ok {
		return fmt.Errorf("admin: unknown resource %q (orgs, users, tokens, grants, api-roots, collections, subscriptions, sources, audit)", rest[0])
	}
	verbName, vargs := "", rest[1:]
	if rest[0] != "audit" {
		if len(vargs) == 0 {
			return fmt.Errorf("admin %s: name a verb (%s)", rest[0], strings.Join(verbNames(res), ", "))
		}
		verbName, vargs = vargs[0], vargs[1:]
	}
	// A verb with verbs of its own ("users certs add") is one name.
	if _, ok := res[verbName]; !ok && len(vargs) > 0 {
		if _, ok := res[verbName+" "+vargs[0]]; ok {
			verbName, vargs = verbName+" "+vargs[0], vargs[1:]
		}
	}
	v, ok := res[verbName]
	if !ok {
		return fmt.Errorf("admin %s: unknown verb %q (%s)", rest[0], verbName, strings.Join(verbNames(res), ", "))
	}
	name := strings.TrimSpace("admin " + rest[0] + " " + verbName)
	vfs := flag.NewFlagSet(name, flag.ContinueOnError)
	vfs.SetOutput(io.Discard)
	c.commonFlags(vfs)
	run := v(vfs)
	pos, err := parseInterspersed(vfs, vargs)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if c.output != "json" && c.output != "table" {
		return fmt.Errorf("%s: -o must be json or table, not %q", name, c.output)
	}
	if err := c.open(ctx); err != nil {
		return err
	}
	defer c.store.Close()
	out, err := run(pos)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if out == nil {
		return nil
	}
	return c.print(out)
}

func verbNames(res map[string]adminVerb) []string {
	var names []string
	for n := range res {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// parseInterspersed parses flags wherever they are among the positional
// arguments, which it returns.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// open opens the store, which must exist (see openAdminStore).
func (c *adminCLI) open(ctx context.Context) error {
	var f FileConfig
	if c.config != "" {
		b, err := os.ReadFile(c.config)
		if err != nil {
			return fmt.Errorf("admin: config file: %w", err)
		}
		if err := yaml.Unmarshal(b, &f); err != nil {
			return fmt.Errorf("admin: config file %s: %w", c.config, err)
		}
	}
	loc := storeLocation{data: c.data, mongoURI: c.mongoURI, mongoDatabase: c.mongoDatabase}
	if loc.mongo() {
		if err := checkMongoDatabase(loc.mongoDatabase); err != nil {
			return fmt.Errorf("admin: --mongo-database: %w", err)
		}
	}
	store, err := openAdminStore(ctx, loc)
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	admin, err := adminService(store, f, nil, logger)
	if err != nil {
		store.Close()
		return err
	}
	who := c.getenv("USER")
	if who == "" {
		who = "unknown"
	}
	// The command acts as an admin: whoever can open the store can do
	// anything with it anyway. Its audit events name the system user.
	c.ctx = authz.WithSourceAddress(authz.NewContext(ctx, authz.Operator("cli:"+who)), "local")
	c.store, c.admin = store, admin
	return nil
}

// adminVerb declares a verb's flags on fs and returns the function that
// runs it with the positional arguments; its result is printed.
type adminVerb func(fs *flag.FlagSet) func(pos []string) (any, error)

// resources are the verbs of each resource.
func (c *adminCLI) resources() map[string]map[string]adminVerb {
	return map[string]map[string]adminVerb{
		"subscriptions": c.subscriptionVerbs(),
		"orgs": {
			"list":   listVerb(0, func(pos []string, pg authz.Page) (any, error) { return c.admin.Organizations(c.ctx, pg) }),
			"get":    oneVerb(1, func(pos []string) (any, error) { return c.admin.Organization(c.ctx, c.orgRef(pos[0])) }),
			"delete": oneVerb(1, func(pos []string) (any, error) { return nil, c.admin.DeleteOrganization(c.ctx, c.orgRef(pos[0])) }),
			"access": listVerb(1, func(pos []string, pg authz.Page) (any, error) {
				return c.admin.OrganizationAccess(c.ctx, c.orgRef(pos[0]), pg)
			}),
			"create": c.orgWrite(0),
			"update": c.orgWrite(1),
		},
		"users": {
			"list": func(fs *flag.FlagSet) func([]string) (any, error) {
				org := fs.String("org", "", "only the users of this organization")
				return listVerb(0, func(pos []string, pg authz.Page) (any, error) {
					ref := ""
					if *org != "" {
						ref = c.orgRef(*org)
					}
					return c.admin.Users(c.ctx, ref, pg)
				})(fs)
			},
			"get":          oneVerb(1, func(pos []string) (any, error) { return c.admin.User(c.ctx, c.userRef(pos[0])) }),
			"delete":       oneVerb(1, func(pos []string) (any, error) { return nil, c.admin.DeleteUser(c.ctx, c.userRef(pos[0])) }),
			"create":       c.userWrite(0),
			"update":       c.userWrite(1),
			"password":     c.passwordVerb,
			"certs list":   c.certList,
			"certs add":    c.certAdd,
			"certs remove": c.certRemove,
		},
		"tokens": {
			"list": listVerb(1, func(pos []string, pg authz.Page) (any, error) {
				return c.admin.Tokens(c.ctx, c.userRef(pos[0]), pg)
			}),
			"get": oneVerb(2, func(pos []string) (any, error) { return c.admin.Token(c.ctx, c.userRef(pos[0]), pos[1]) }),
			"revoke": oneVerb(2, func(pos []string) (any, error) {
				return c.admin.RevokeToken(c.ctx, c.userRef(pos[0]), pos[1])
			}),
			"delete": oneVerb(2, func(pos []string) (any, error) {
				return nil, c.admin.DeleteToken(c.ctx, c.userRef(pos[0]), pos[1])
			}),
			"create": c.tokenCreate,
		},
		"grants": {
			"list":       c.grantsList,
			"get":        oneVerb(1, func(pos []string) (any, error) { return c.admin.Grant(c.ctx, pos[0]) }),
			"delete":     oneVerb(1, func(pos []string) (any, error) { return nil, c.admin.DeleteGrant(c.ctx, pos[0]) }),
			"create":     c.grantCreate,
			"add":        c.grantCreate,
			"conditions": c.grantConditions,
		},
		"sources": c.sourceVerbs(),
		"api-roots": {
			"list":   listVerb(0, func(pos []string, pg authz.Page) (any, error) { return c.admin.APIRoots(c.ctx, pg) }),
			"get":    oneVerb(1, func(pos []string) (any, error) { return c.admin.APIRoot(c.ctx, pos[0]) }),
			"delete": oneVerb(1, func(pos []string) (any, error) { return nil, c.admin.DeleteAPIRoot(c.ctx, pos[0]) }),
			"create": c.rootWrite(0),
			"update": c.rootWrite(1),
		},
		"collections": {
			"list": listVerb(1, func(pos []string, pg authz.Page) (any, error) {
				return c.admin.Collections(c.ctx, pos[0], pg)
			}),
			"get": oneVerb(2, func(pos []string) (any, error) {
				return c.admin.Collection(c.ctx, pos[0], c.collRef(pos[0], pos[1]))
			}),
			"delete": oneVerb(2, func(pos []string) (any, error) {
				return nil, c.admin.DeleteCollection(c.ctx, pos[0], c.collRef(pos[0], pos[1]))
			}),
			"access": listVerb(2, func(pos []string, pg authz.Page) (any, error) {
				return c.admin.CollectionAccess(c.ctx, pos[0], c.collRef(pos[0], pos[1]), pg)
			}),
			"create": c.collectionWrite(1),
			"update": c.collectionWrite(2),
		},
		"audit": {"": c.auditVerb},
	}
}

// wantArgs checks the number of positional arguments.
func wantArgs(pos []string, n int) error {
	if len(pos) != n {
		return fmt.Errorf("want %d argument(s), got %d: %s", n, len(pos), strings.Join(pos, " "))
	}
	return nil
}

// oneVerb is a verb of n positional arguments and no flags of its own.
func oneVerb(n int, run func(pos []string) (any, error)) adminVerb {
	return func(fs *flag.FlagSet) func([]string) (any, error) {
		return func(pos []string) (any, error) {
			if err := wantArgs(pos, n); err != nil {
				return nil, err
			}
			return run(pos)
		}
	}
}

// listVerb is a listing: one page (--limit, --cursor) or, with --all,
// every page.
func listVerb(n int, run func(pos []string, pg authz.Page) (any, error)) adminVerb {
	return func(fs *flag.FlagSet) func([]string) (any, error) {
		limit := fs.Int("limit", 0, "records per page (default 100, at most 500)")
		cursor := fs.String("cursor", "", "the next of the previous page")
		all := fs.Bool("all", false, "list every page")
		return func(pos []string) (any, error) {
			if err := wantArgs(pos, n); err != nil {
				return nil, err
			}
			pg := authz.Page{Limit: *limit, Cursor: *cursor}
			if !*all {
				return run(pos, pg)
			}
			if pg.Limit == 0 {
				pg.Limit = authz.MaxPageLimit
			}
			var items []json.RawMessage
			for {
				out, err := run(pos, pg)
				if err != nil {
					return nil, err
				}
				var l struct {
					Items []json.RawMessage `json:"items"`
					Next  string            `json:"next"`
				}
				b, _ := json.Marshal(out)
				if err := json.Unmarshal(b, &l); err != nil {
					return nil, err
				}
				items = append(items, l.Items...)
				if l.Next == "" {
					return authz.List[json.RawMessage]{Items: items}, nil
				}
				pg.Cursor = l.Next
			}
		}
	}
}

// set returns a pointer to v when the flag name was given, else nil: the
// fields an update changes.
func set[T any](fs *flag.FlagSet, name string, v T) *T {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	if !given {
		return nil
	}
	return &v
}

func (c *adminCLI) orgWrite(n int) adminVerb {
	return func(fs *flag.FlagSet) func([]string) (any, error) {
		name := fs.String("name", "", "unique name")
		desc := fs.String("description", "", "description")
		return func(pos []string) (any, error) {
			if err := wantArgs(pos, n); err != nil {
				return nil, err
			}
			in := authz.OrganizationInput{Name: set(fs, "name", *name), Description: set(fs, "description", *desc)}
			if n == 0 {
				return c.admin.CreateOrganization(c.ctx, in)
			}
			return c.admin.UpdateOrganization(c.ctx, c.orgRef(pos[0]), in)
		}
	}
}

// userCreated is the output of a user created with a generated password.
type userCreated struct {
	authz.UserView
	Password string `json:"password,omitempty"`
}

func (c *adminCLI) userWrite(n int) adminVerb {
	return func(fs *flag.FlagSet) func([]string) (any, error) {
		name := fs.String("name", "", "unique name (the user-id of HTTP Basic)")
		org := fs.String("org", "", "organization id or name")
		role := fs.String("role", "member", "admin, org-admin or member")
		disabled := fs.Bool("disabled", false, "the user cannot authenticate")
		var fromStdin, generate *bool
		if n == 0 {
			fromStdin = fs.Bool("password-stdin", false, "read the password from the first line of standard input")
			generate = fs.Bool("generate-password", false, "make a password and show it once")
		}
		return func(pos []string) (any, error) {
			if err := wantArgs(pos, n); err != nil {
				return nil, err
			}
			in := authz.UserInput{Name: set(fs, "name", *name), Role: set(fs, "role", authz.Role(*role)),
				Disabled: set(fs, "disabled", *disabled)}
			if o := set(fs, "org", *org); o != nil {
				in.OrganizationID = ptr(c.orgRef(*o))
			}
			if n == 1 {
				return c.admin.UpdateUser(c.ctx, c.userRef(pos[0]), in)
			}
			var out userCreated
			switch {
			case *fromStdin && *generate:
				return nil, errors.New("--password-stdin and --generate-password exclude each other")
			case *fromStdin:
				pw, err := c.readPassword()
				if err != nil {
					return nil, err
				}
				in.Password = &pw
			case *generate:
				out.Password = rand62(24)
				in.Password = &out.Password
			}
			u, err := c.admin.CreateUser(c.ctx, in)
			out.UserView = u
			return out, err
		}
	}
}

func (c *adminCLI) passwordVerb(fs *flag.FlagSet) func([]string) (any, error) {
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input (else one is made and shown once)")
	return func(pos []string) (any, error) {
		if err := wantArgs(pos, 1); err != nil {
			return nil, err
		}
		var in authz.PasswordInput
		if *fromStdin {
			pw, err := c.readPassword()
			if err != nil {
				return nil, err
			}
			in.Password = &pw
		}
		return c.admin.SetPassword(c.ctx, c.userRef(pos[0]), in)
	}
}

func (c *adminCLI) tokenCreate(fs *flag.FlagSet) func([]string) (any, error) {
	name := fs.String("name", "", "name, unique among the user's tokens")
	expiresIn := fs.Duration("expires-in", 0, "the token stops working after this long (720h for 30 days)")
	expiresAt := fs.String("expires-at", "", "the token stops working at this RFC 3339 time")
	return func(pos []string) (any, error) {
		if err := wantArgs(pos, 1); err != nil {
			return nil, err
		}
		in := authz.TokenInput{Name: set(fs, "name", *name)}
		switch {
		case *expiresIn != 0 && *expiresAt != "":
			return nil, errors.New("--expires-in and --expires-at exclude each other")
		case *expiresIn != 0:
			in.ExpiresAt = ptr(time.Now().Add(*expiresIn))
		case *expiresAt != "":
			t, err := time.Parse(time.RFC3339Nano, *expiresAt)
			if err != nil {
				return nil, fmt.Errorf("--expires-at: %w", err)
			}
			in.ExpiresAt = &t
		}
		return c.admin.CreateToken(c.ctx, c.userRef(pos[0]), in)
	}
}

// c.subjectFlags declares --org, --user and --public, and returns the
// subject they name (nil for none).
func (c *adminCLI) subjectFlags(fs *flag.FlagSet) func() (*authz.SubjectInput, error) {
	org := fs.String("org", "", "organization id or name")
	user := fs.String("user", "", "user id or name")
	public := fs.Bool("public", false, "the public: everyone, credentials or not (read only)")
	return func() (*authz.SubjectInput, error) {
		var subs []*authz.SubjectInput
		if *org != "" {
			subs = append(subs, &authz.SubjectInput{Kind: authz.SubjectOrganization, ID: c.orgRef(*org)})
		}
		if *user != "" {
			subs = append(subs, &authz.SubjectInput{Kind: authz.SubjectUser, ID: c.userRef(*user)})
		}
		if *public {
			subs = append(subs, &authz.SubjectInput{Kind: authz.SubjectPublic})
		}
		if len(subs) > 1 {
			return nil, errors.New("--org, --user and --public exclude each other")
		}
		if len(subs) == 0 {
			return nil, nil
		}
		return subs[0], nil
	}
}

func (c *adminCLI) grantsList(fs *flag.FlagSet) func([]string) (any, error) {
	subject := c.subjectFlags(fs)
	root := fs.String("api-root", "", "API root path")
	coll := fs.String("collection", "", "collection id (with --api-root)")
	action := fs.String("action", "", "read or write")
	return listVerb(0, func(pos []string, pg authz.Page) (any, error) {
		s, err := subject()
		if err != nil {
			return nil, err
		}
		q := authz.GrantQuery{APIRoot: *root, Collection: *coll, Action: authz.Action(*action)}
		if s != nil {
			q.SubjectKind, q.SubjectID = s.Kind, s.ID
		}
		return c.admin.Grants(c.ctx, q, pg)
	})(fs)
}

func (c *adminCLI) grantCreate(fs *flag.FlagSet) func([]string) (any, error) {
	subject := c.subjectFlags(fs)
	root := fs.String("api-root", "", "API root path")
	coll := fs.String("collection", "", "collection id or alias")
	action := fs.String("action", "", "read or write")
	conditions := conditionsFlags(fs)
	return func(pos []string) (any, error) {
		if err := wantArgs(pos, 0); err != nil {
			return nil, err
		}
		s, err := subject()
		if err != nil {
			return nil, err
		}
		in := authz.GrantInput{Subject: s, APIRoot: set(fs, "api-root", *root),
			Collection: set(fs, "collection", *coll), Action: set(fs, "action", authz.Action(*action))}
		cond, given, err := conditions()
		if err != nil {
			return nil, err
		}
		if given {
			in.Conditions = &cond
		}
		return c.admin.CreateGrant(c.ctx, in)
	}
}

// grantConditions replaces the conditions of a grant with those the flags
// give; --clear lifts them all. Without either it refuses, so that a
// forgotten flag does not lift conditions.
func (c *adminCLI) grantConditions(fs *flag.FlagSet) func([]string) (any, error) {
	conditions := conditionsFlags(fs)
	clearAll := fs.Bool("clear", false, "lift every condition")
	return func(pos []string) (any, error) {
		if err := wantArgs(pos, 1); err != nil {
			return nil, err
		}
		cond, given, err := conditions()
		if err != nil {
			return nil, err
		}
		switch {
		case *clearAll && given:
			return nil, errors.New("--clear and the condition flags exclude each other")
		case !*clearAll && !given:
			return nil, errors.New("give the new conditions (--max-tlp, --embargo, --hide-creator, --hide-source) or --clear")
		}
		return c.admin.UpdateGrantConditions(c.ctx, pos[0], cond)
	}
}

// conditionsFlags declares the flags of sharing conditions, and returns
// the conditions they give and whether any was given.
func conditionsFlags(fs *flag.FlagSet) func() (authz.ConditionsInput, bool, error) {
	maxTLP := fs.String("max-tlp", "", "highest TLP level the grantee sees: clear (white), green, amber, amber+strict or red")
	embargo := fs.Duration("embargo", 0, "each object is visible this long after it was added (24h; at most 8760h)")
	hideCreator := fs.Bool("hide-creator", false, "serve created_by_ref as the hub's identity")
	var sources stringsFlag
	fs.Var(&sources, "hide-source", "remove the external references of this source_name, repeatable")
	return func() (authz.ConditionsInput, bool, error) {
		given := false
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "max-tlp", "embargo", "hide-creator", "hide-source":
				given = true
			}
		})
		if *embargo%time.Second != 0 {
			return authz.ConditionsInput{}, false, fmt.Errorf("--embargo %s: whole seconds only", *embargo)
		}
		return authz.ConditionsInput{MaxTLP: *maxTLP, EmbargoSeconds: int64(*embargo / time.Second),
			HideCreator: *hideCreator, HideSources: sources}, given, nil
	}
}

func (c *adminCLI) rootWrite(n int) adminVerb {
	return func(fs *flag.FlagSet) func([]string) (any, error) {
		var path *string
		if n == 0 {
			path = fs.String("path", "", "the URL path segment to serve it under")
		}
		title := fs.String("title", "", "title")
		desc := fs.String("description", "", "description")
		maxLen := fs.Int64("max-content-length", 0, "largest POST body in bytes (default 100 MiB)")
		return func(pos []string) (any, error) {
			if err := wantArgs(pos, n); err != nil {
				return nil, err
			}
			in := authz.APIRootInput{Title: set(fs, "title", *title), Description: set(fs, "description", *desc),
				MaxContentLength: set(fs, "max-content-length", *maxLen)}
			if n == 0 {
				in.Path = set(fs, "path", *path)
				return c.admin.CreateAPIRoot(c.ctx, in)
			}
			return c.admin.UpdateAPIRoot(c.ctx, pos[0], in)
		}
	}
}

// stringsFlag is a repeatable string flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

func (c *adminCLI) collectionWrite(n int) adminVerb {
	return func(fs *flag.FlagSet) func([]string) (any, error) {
		var id *string
		if n == 1 {
			id = fs.String("id", "", "lowercase UUID (default: a new one)")
		}
		alias := fs.String("alias", "", "alias, usable in URLs instead of the id (empty: none)")
		title := fs.String("title", "", "title")
		desc := fs.String("description", "", "description")
		var media stringsFlag
		fs.Var(&media, "media-type", "a media type of the collection, repeatable (default application/stix+json;version=2.1)")
		validation := fs.String("validation", "", "validation level of pushed objects: strict, default or permissive (empty: the server's)")
		unmarked := fs.String("unmarked-tlp", "", "TLP level recorded for objects pushed from now on without a TLP marking: clear (white), green, amber, amber+strict or red (empty: red); objects already stored keep theirs")
		return func(pos []string) (any, error) {
			if err := wantArgs(pos, n); err != nil {
				return nil, err
			}
			in := authz.CollectionInput{Alias: set(fs, "alias", *alias), Title: set(fs, "title", *title),
				Description: set(fs, "description", *desc), Validation: set(fs, "validation", *validation),
				UnmarkedTLP: set(fs, "unmarked-tlp", *unmarked)}
			if media != nil {
				in.MediaTypes = ptr([]string(media))
			}
			if n == 1 {
				in.ID = set(fs, "id", *id)
				return c.admin.CreateCollection(c.ctx, pos[0], in)
			}
			return c.admin.UpdateCollection(c.ctx, pos[0], c.collRef(pos[0], pos[1]), in)
		}
	}
}

func (c *adminCLI) auditVerb(fs *flag.FlagSet) func([]string) (any, error) {
	user := fs.String("user", "", "events of this user (id or name)")
	org := fs.String("org", "", "events of this organization's users (id or name)")
	action := fs.String("action", "", "events of this action, such as admin.user.create")
	root := fs.String("api-root", "", "events about a collection of this API root (with --collection)")
	coll := fs.String("collection", "", "events about this collection (with --api-root)")
	since := fs.String("since", "", "from this RFC 3339 time, or this long ago (24h)")
	until := fs.String("until", "", "before this RFC 3339 time, or this long ago")
	return listVerb(0, func(pos []string, pg authz.Page) (any, error) {
		q := authz.AuditQuery{Action: *action, APIRoot: *root, Collection: *coll}
		if *user != "" {
			q.UserID = c.userRef(*user)
		}
		if *org != "" {
			q.OrganizationID = c.orgRef(*org)
		}
		var err error
		if q.Since, err = timeOrAgo("since", *since); err != nil {
			return nil, err
		}
		if q.Until, err = timeOrAgo("until", *until); err != nil {
			return nil, err
		}
		return c.admin.AuditEvents(c.ctx, q, pg)
	})(fs)
}

// timeOrAgo reads an RFC 3339 time or a duration before now.
func timeOrAgo(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s: %q is neither an RFC 3339 time nor a duration such as 24h", name, v)
	}
	return t, nil
}

func ptr[T any](v T) *T { return &v }

// orgRef turns an organization name into its id; an id, or a name that
// matches nothing, is left for the service to judge.
func (c *adminCLI) orgRef(ref string) string {
	if _, err := c.store.Organization(c.ctx, ref); err == nil {
		return ref
	}
	if o, err := c.store.OrganizationByName(c.ctx, ref); err == nil {
		return o.ID
	}
	return ref
}

// userRef turns a user name into its id, as orgRef.
func (c *adminCLI) userRef(ref string) string {
	if _, err := c.store.User(c.ctx, ref); err == nil {
		return ref
	}
	if u, err := c.store.UserByName(c.ctx, ref); err == nil {
		return u.ID
	}
	return ref
}

// collRef turns a collection alias into its id, as orgRef.
func (c *adminCLI) collRef(root, ref string) string {
	cs, err := c.store.Collections(c.ctx, root)
	if err != nil {
		return ref
	}
	for _, col := range cs {
		if col.ID == ref {
			return ref
		}
	}
	for _, col := range cs {
		if col.Alias == ref {
			return col.ID
		}
	}
	return ref
}

// readPassword reads a password from the first line of standard input, so
// that it never appears in the process list or the shell's history.
func (c *adminCLI) readPassword() (string, error) {
	line, err := bufio.NewReaderSize(c.stdin, authz.MaxPasswordLen+2).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// rand62 makes a password of n base62 characters.
func rand62(n int) string {
	secret, _, _, err := authz.NewTokenSecret()
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return secret[len(authz.TokenPrefix) : len(authz.TokenPrefix)+n]
}

// print writes a command's result: indented JSON, or a table of the
// records (the items of a listing) with one column per member.
func (c *adminCLI) print(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if c.output == "json" {
		_, err = c.stdout.Write(append(b, '\n'))
		return err
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
		Next  string            `json:"next"`
	}
	rows := []json.RawMessage{b}
	if json.Unmarshal(b, &list) == nil && list.Items != nil {
		rows = list.Items
	}
	var cols []string
	var cells []map[string]string
	for _, r := range rows {
		keys, vals, err := members(r)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if !slices.Contains(cols, k) {
				cols = append(cols, k)
			}
		}
		cells = append(cells, vals)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(cols, "\t")))
	for _, row := range cells {
		var vs []string
		for _, col := range cols {
			vs = append(vs, row[col])
		}
		fmt.Fprintln(tw, strings.Join(vs, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if list.Next != "" {
		fmt.Fprintf(c.stderr, "more: --cursor %s\n", list.Next)
	}
	return nil
}

// members returns the member names of a JSON object in their order, and
// each value as a table cell: strings as they are, anything else as
// compact JSON.
func members(raw json.RawMessage) ([]string, map[string]string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	var keys []string
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			continue
		case json.Delim('}'), json.Delim(']'):
			depth--
			continue
		}
		if depth == 1 {
			if k, ok := tok.(string); ok && m[k] != nil && !slices.Contains(keys, k) {
				keys = append(keys, k)
				// Skip the value.
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	vals := map[string]string{}
	for k, v := range m {
		var s string
		if json.Unmarshal(v, &s) == nil {
			vals[k] = s
			continue
		}
		var buf bytes.Buffer
		if json.Compact(&buf, v) == nil {
			vals[k] = buf.String()
		}
	}
	return keys, vals, nil
}
