package mirror

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// Bounds of a source's poll interval.
const (
	DefaultInterval = 5 * time.Minute
	MinInterval     = 100 * time.Millisecond
	MaxInterval     = 7 * 24 * time.Hour
)

// secretName is the store secret that seals the credentials of sources.
const secretName = "mirror-credentials"

// Service is what the admin API and the CLI call to declare and inspect
// sources. Who may call it is the caller's business (admins only).
type Service struct {
	store Store
	colls collections.Store
}

// NewService returns the service on store; colls holds the local
// collections and the sealing key (collections.Store.Secret).
func NewService(store Store, colls collections.Store) *Service {
	return &Service{store: store, colls: colls}
}

// SourceInput declares a source. URL is the remote collection's URL, or
// APIRootURL and CollectionID name it. Password goes with Username
// (HTTP Basic); Token is a bearer token instead.
type SourceInput struct {
	Name       string `json:"name"`
	URL        string `json:"url,omitempty"`
	APIRootURL string `json:"api_root_url,omitempty"`
	// DiscoveryURL, with CollectionID, names the collection in the
	// default API root the remote's discovery resource names (read once,
	// when the source is created).
	DiscoveryURL string `json:"discovery_url,omitempty"`
	CollectionID string `json:"collection_id,omitempty"`
	Username     string `json:"username,omitempty"`
	Password     string `json:"password,omitempty"`
	Token        string `json:"token,omitempty"`
	CertFile     string `json:"cert_file,omitempty"`
	KeyFile      string `json:"key_file,omitempty"`
	CAFile       string `json:"ca_file,omitempty"`
	AllowHTTP    bool   `json:"allow_http,omitempty"`
	APIRoot      string `json:"api_root"`
	// Collection is the local collection's id or alias.
	Collection string `json:"collection"`
	// Interval is a Go duration ("5m"); "" means DefaultInterval.
	Interval string `json:"interval,omitempty"`
	// Direction is "pull" (the default: the remote fills the local
	// collection) or "push" (the local collection is forwarded to the
	// remote).
	Direction string `json:"direction,omitempty"`
	// MaxTLP, for a push, is the highest TLP level forwarded (clear,
	// green, amber, amber+strict, red); "" forwards every level.
	MaxTLP string `json:"max_tlp,omitempty"`
}

// SourceView is a source as the admin API shows it: never its secrets,
// only whether it has them.
type SourceView struct {
	Name        string        `json:"name"`
	URL         string        `json:"url"`
	Username    string        `json:"username,omitempty"`
	HasPassword bool          `json:"has_password"`
	HasToken    bool          `json:"has_token"`
	CertFile    string        `json:"cert_file,omitempty"`
	KeyFile     string        `json:"key_file,omitempty"`
	CAFile      string        `json:"ca_file,omitempty"`
	AllowHTTP   bool          `json:"allow_http"`
	APIRoot     string        `json:"api_root"`
	Collection  string        `json:"collection"`
	Direction   string        `json:"direction"`
	MaxTLP      string        `json:"max_tlp,omitempty"`
	Interval    string        `json:"interval"`
	Created     time.Time     `json:"created"`
	Status      *StatusView   `json:"status,omitempty"`
	Rejections  []Rejection   `json:"rejections,omitempty"`
	Batches     []BatchRecord `json:"batches,omitempty"`
}

// StatusView is the operations view of a source.
type StatusView struct {
	// Cursor: the added_after of the next pull, and whether a walk of the
	// remote's pages is under way.
	Cursor     string `json:"cursor"`
	WalkActive bool   `json:"walk_active"`
	Counters
	LastSuccess *time.Time `json:"last_success"`
	LastPage    *time.Time `json:"last_page"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	// LagSeconds is the time since the source was last caught up (since it
	// was declared when it never was).
	LagSeconds float64    `json:"lag_seconds"`
	Holder     string     `json:"holder,omitempty"`
	LeaseUntil *time.Time `json:"lease_until,omitempty"`
}

// BatchRecord is a Batch in JSON.
type BatchRecord = Batch

// MarshalJSON writes the counters with JSON names.
func (c Counters) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]int64{"pages": c.Pages, "objects": c.Objects, "added": c.Added,
		"unchanged": c.Unchanged, "rejected": c.Rejected})
}

// MarshalJSON writes a rejection with JSON names.
func (r Rejection) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		At      time.Time `json:"at"`
		ID      string    `json:"id,omitempty"`
		Version string    `json:"version,omitempty"`
		Reason  string    `json:"reason"`
		Message string    `json:"message,omitempty"`
	}{r.At, r.ID, r.Version, r.Reason, r.Message})
}

// MarshalJSON writes a batch with JSON names.
func (b Batch) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		At        time.Time `json:"at"`
		First     string    `json:"date_added_first"`
		Last      string    `json:"date_added_last"`
		Objects   int       `json:"objects"`
		Added     int       `json:"added"`
		Unchanged int       `json:"unchanged"`
		Rejected  int       `json:"rejected"`
	}{b.At, b.First, b.Last, b.Objects, b.Added, b.Unchanged, b.Rejected})
}

// MarshalJSON flattens the counters into the status.
func (v StatusView) MarshalJSON() ([]byte, error) {
	type plain struct {
		Cursor      string     `json:"cursor"`
		WalkActive  bool       `json:"walk_active"`
		Pages       int64      `json:"pages"`
		Objects     int64      `json:"objects"`
		Added       int64      `json:"added"`
		Unchanged   int64      `json:"unchanged"`
		Rejected    int64      `json:"rejected"`
		LastSuccess *time.Time `json:"last_success"`
		LastPage    *time.Time `json:"last_page"`
		LastError   string     `json:"last_error,omitempty"`
		LastErrorAt *time.Time `json:"last_error_at,omitempty"`
		LagSeconds  float64    `json:"lag_seconds"`
		Holder      string     `json:"holder,omitempty"`
		LeaseUntil  *time.Time `json:"lease_until,omitempty"`
	}
	return json.Marshal(plain{v.Cursor, v.WalkActive, v.Pages, v.Objects, v.Added, v.Unchanged, v.Rejected,
		v.LastSuccess, v.LastPage, v.LastError, v.LastErrorAt, v.LagSeconds, v.Holder, v.LeaseUntil})
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", collections.ErrInvalid, field, fmt.Sprintf(format, args...))
}

// CreateSource checks and stores a new source; its secrets are sealed.
// ErrInvalid (naming the field), ErrConflict when the name is taken.
func (s *Service) CreateSource(ctx context.Context, in SourceInput) (SourceView, error) {
	if err := CheckName(in.Name); err != nil {
		return SourceView{}, err
	}
	raw := in.URL
	switch {
	case raw != "" && (in.APIRootURL != "" || in.DiscoveryURL != "" || in.CollectionID != ""):
		return SourceView{}, invalid("url", "give url, or api_root_url or discovery_url with collection_id, not both")
	case in.APIRootURL != "" && in.DiscoveryURL != "":
		return SourceView{}, invalid("api_root_url", "give api_root_url or discovery_url, not both")
	case raw == "" && ((in.APIRootURL == "" && in.DiscoveryURL == "") || in.CollectionID == ""):
		return SourceView{}, invalid("url", "required (or api_root_url or discovery_url with collection_id)")
	case raw == "":
		if strings.ContainsAny(in.CollectionID, "/?#") {
			return SourceView{}, invalid("collection_id", "%q is not a collection id", in.CollectionID)
		}
		root := in.APIRootURL
		if in.DiscoveryURL != "" {
			var err error
			if root, err = s.discover(ctx, in); err != nil {
				return SourceView{}, err
			}
		}
		raw = strings.TrimSuffix(root, "/") + "/collections/" + in.CollectionID + "/"
	}
	u, err := CheckURL(raw, in.AllowHTTP)
	if err != nil {
		return SourceView{}, err
	}
	switch {
	case in.Token != "" && (in.Username != "" || in.Password != ""):
		return SourceView{}, invalid("token", "a source authenticates with a token or with username and password, not both")
	case in.Password != "" && in.Username == "":
		return SourceView{}, invalid("username", "required with a password")
	case (in.CertFile == "") != (in.KeyFile == ""):
		return SourceView{}, invalid("key_file", "cert_file and key_file go together")
	}
	if in.CertFile != "" {
		if _, err := tls.LoadX509KeyPair(in.CertFile, in.KeyFile); err != nil {
			return SourceView{}, invalid("cert_file", "%v", err)
		}
	}
	interval := DefaultInterval
	if in.Interval != "" {
		interval, err = time.ParseDuration(in.Interval)
		if err != nil || interval < MinInterval || interval > MaxInterval {
			return SourceView{}, invalid("interval", "%q is not a duration between %s and %s", in.Interval, MinInterval, MaxInterval)
		}
	}
	direction := in.Direction
	switch direction {
	case "":
		direction = Pull
	case Pull, Push:
	default:
		return SourceView{}, invalid("direction", "%q: want pull or push", in.Direction)
	}
	var maxTLP stix.TLP
	if in.MaxTLP != "" {
		if direction != Push {
			return SourceView{}, invalid("max_tlp", "applies to push sources only")
		}
		if maxTLP, err = stix.ParseTLP(in.MaxTLP); err != nil {
			return SourceView{}, invalid("max_tlp", "%v", err)
		}
	}
	if in.APIRoot == "" || in.Collection == "" {
		return SourceView{}, invalid("collection", "api_root and collection name the local collection to fill")
	}
	coll, err := localCollection(ctx, s.colls, in.APIRoot, in.Collection)
	if err != nil {
		return SourceView{}, err
	}
	src := Source{Name: in.Name, URL: u, Username: in.Username, CertFile: in.CertFile, KeyFile: in.KeyFile,
		CAFile: in.CAFile, AllowHTTP: in.AllowHTTP, APIRoot: coll.APIRoot, Collection: coll.ID, Direction: direction, MaxTLP: maxTLP,
		Interval: interval, Created: time.Now().UTC().Truncate(time.Millisecond)}
	if in.Password != "" || in.Token != "" {
		src.Sealed, err = s.seal(ctx, src.Name, credentials{Password: in.Password, Token: in.Token})
		if err != nil {
			return SourceView{}, err
		}
	}
	if err := s.store.CreateSource(ctx, src); err != nil {
		return SourceView{}, err
	}
	return viewSource(src, credentials{Password: in.Password, Token: in.Token}), nil
}

// discoverTimeout bounds reading a remote's discovery resource.
const discoverTimeout = 15 * time.Second

// discover returns the default API root the discovery resource of in
// names, read with in's credentials and TLS settings.
func (s *Service) discover(ctx context.Context, in SourceInput) (string, error) {
	u, err := CheckURL(in.DiscoveryURL, in.AllowHTTP)
	if err != nil {
		return "", invalid("discovery_url", "%v", strings.TrimPrefix(err.Error(), collections.ErrInvalid.Error()+": url: "))
	}
	c, err := newClient(Source{URL: u, Username: in.Username, CertFile: in.CertFile, KeyFile: in.KeyFile, CAFile: in.CAFile,
		AllowHTTP: in.AllowHTTP}, credentials{Password: in.Password, Token: in.Token}, Limits{RequestTimeout: discoverTimeout})
	if err != nil {
		return "", invalid("discovery_url", "%v", err)
	}
	defer c.close()
	root, err := c.discoverDefault(ctx, u)
	if err != nil {
		return "", invalid("discovery_url", "%v", err)
	}
	return root, nil
}

// localCollection finds the collection ref (id or alias) of apiRoot.
func localCollection(ctx context.Context, colls collections.Store, apiRoot, ref string) (collections.Collection, error) {
	c, err := colls.Collection(ctx, apiRoot, ref)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, collections.ErrNotFound) {
		return c, err
	}
	all, err := colls.Collections(ctx, apiRoot)
	if err != nil && !errors.Is(err, collections.ErrNotFound) {
		return collections.Collection{}, err
	}
	for _, c := range all {
		if c.Alias != "" && c.Alias == ref {
			return c, nil
		}
	}
	return collections.Collection{}, invalid("collection", "no collection %q in API root %q", ref, apiRoot)
}

func viewSource(src Source, creds credentials) SourceView {
	return SourceView{Name: src.Name, URL: src.URL, Username: src.Username, HasPassword: creds.Password != "",
		HasToken: creds.Token != "", CertFile: src.CertFile, KeyFile: src.KeyFile, CAFile: src.CAFile,
		AllowHTTP: src.AllowHTTP, APIRoot: src.APIRoot, Collection: src.Collection, Direction: src.Direction, MaxTLP: src.MaxTLP.String(),
		Interval: src.Interval.String(), Created: src.Created}
}

// Sources lists every source with its status.
func (s *Service) Sources(ctx context.Context) ([]SourceView, error) {
	all, err := s.store.Sources(ctx)
	if err != nil {
		return nil, err
	}
	views := make([]SourceView, 0, len(all))
	for _, src := range all {
		v, err := s.view(ctx, src, false)
		if errors.Is(err, collections.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		views = append(views, v)
	}
	return views, nil
}

// ShownRecords is how many rejections and batches Source shows.
const ShownRecords = 50

// Source shows one source: its status, newest rejections and batches.
func (s *Service) Source(ctx context.Context, name string) (SourceView, error) {
	src, err := s.store.Source(ctx, name)
	if err != nil {
		return SourceView{}, err
	}
	return s.view(ctx, src, true)
}

func (s *Service) view(ctx context.Context, src Source, details bool) (SourceView, error) {
	creds, err := s.unseal(ctx, src)
	if err != nil {
		return SourceView{}, err
	}
	v := viewSource(src, creds)
	st, err := s.store.SourceState(ctx, src.Name)
	if err != nil {
		return SourceView{}, err
	}
	v.Status = statusView(src, st, time.Now())
	if details {
		if v.Rejections, err = s.store.Rejections(ctx, src.Name, ShownRecords); err != nil {
			return SourceView{}, err
		}
		if v.Batches, err = s.store.Batches(ctx, src.Name, ShownRecords); err != nil {
			return SourceView{}, err
		}
	}
	return v, nil
}

func statusView(src Source, st State, now time.Time) *StatusView {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	since := st.LastSuccess
	if since.IsZero() {
		since = src.Created
	}
	v := &StatusView{Cursor: st.Cursor.After, WalkActive: st.Cursor.Next != "", Counters: st.Counters,
		LastSuccess: opt(st.LastSuccess), LastPage: opt(st.LastPage), LastError: st.LastError,
		LastErrorAt: opt(st.LastErrorAt), LagSeconds: max(now.Sub(since).Seconds(), 0)}
	if st.Holder != "" && st.LeaseUntil.After(now) {
		v.Holder, v.LeaseUntil = st.Holder, opt(st.LeaseUntil)
	}
	return v
}

// DeleteSource removes a source and what was recorded of it; the objects
// it brought stay in the local collection.
func (s *Service) DeleteSource(ctx context.Context, name string) error {
	return s.store.DeleteSource(ctx, name)
}

// key returns the AES-256 key sealing credentials, shared by every
// process on the store.
func (s *Service) key(ctx context.Context) (cipher.AEAD, error) {
	k, err := s.colls.Secret(ctx, secretName, func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, err
	}
	if len(k) != 32 {
		return nil, fmt.Errorf("mirror: the stored %s key has %d bytes, want 32", secretName, len(k))
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal encrypts creds with AES-256-GCM, bound to the source's name (so a
// sealed value copied to another source does not open).
func (s *Service) seal(ctx context.Context, name string, creds credentials) ([]byte, error) {
	aead, err := s.key(ctx)
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(creds)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plain, []byte(name)), nil
}

// unseal opens the credentials of src.
func (s *Service) unseal(ctx context.Context, src Source) (credentials, error) {
	var creds credentials
	if len(src.Sealed) == 0 {
		return creds, nil
	}
	aead, err := s.key(ctx)
	if err != nil {
		return creds, err
	}
	n := aead.NonceSize()
	if len(src.Sealed) < n {
		return creds, fmt.Errorf("mirror: the credentials of source %s are damaged", src.Name)
	}
	plain, err := aead.Open(nil, src.Sealed[:n], src.Sealed[n:], []byte(src.Name))
	if err != nil {
		return creds, fmt.Errorf("mirror: the credentials of source %s do not open: %w", src.Name, err)
	}
	if err := json.Unmarshal(plain, &creds); err != nil {
		return creds, fmt.Errorf("mirror: the credentials of source %s: %w", src.Name, err)
	}
	return creds, nil
}
