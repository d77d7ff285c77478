package mirror

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/taxiid/taxiid/collections"
)

// The TAXII 2.1 media type of requests and answers (section 1.6.8.1).
const mediaTAXII = "application/taxii+json;version=2.1"

// Limits bound what a pull takes from a remote.
type Limits struct {
	// PageObjects is the limit asked per page, and the most objects a
	// page may hold (a remote that sends more is failing).
	PageObjects int
	// PageBytes is the most bytes of one answer.
	PageBytes int64
	// RequestTimeout bounds one request, answer read included.
	RequestTimeout time.Duration
}

// Default limits.
const (
	DefaultPageObjects    = 500
	DefaultPageBytes      = 32 << 20
	DefaultRequestTimeout = 60 * time.Second
)

func (l Limits) withDefaults() Limits {
	if l.PageObjects <= 0 {
		l.PageObjects = DefaultPageObjects
	}
	if l.PageBytes <= 0 {
		l.PageBytes = DefaultPageBytes
	}
	if l.RequestTimeout <= 0 {
		l.RequestTimeout = DefaultRequestTimeout
	}
	return l
}

// credentials are a source's secrets, sealed in Source.Sealed.
type credentials struct {
	Password string `json:"password,omitempty"`
	Token    string `json:"token,omitempty"`
}

// client reads one remote collection.
type client struct {
	objects  string // the objects endpoint
	username string
	creds    credentials
	http     *http.Client
	limits   Limits
}

// CheckURL checks a remote collection URL: absolute, http or https, no
// user information, query or fragment, https unless the host is a
// loopback address or allowHTTP. It returns the URL ending in "/".
func CheckURL(raw string, allowHTTP bool) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "", fmt.Errorf("%w: url: %q is not an absolute http(s) URL", collections.ErrInvalid, raw)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%w: url: scheme %q, want https", collections.ErrInvalid, u.Scheme)
	case u.User != nil:
		return "", fmt.Errorf("%w: url: credentials go in username/password or token, not in the URL", collections.ErrInvalid)
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("%w: url: a collection URL has no query or fragment", collections.ErrInvalid)
	case u.Scheme == "http" && !allowHTTP && !loopback(u.Hostname()):
		return "", fmt.Errorf("%w: url: plain http is allowed only to a loopback address unless allow_http is set", collections.ErrInvalid)
	}
	s := u.String()
	if !strings.HasSuffix(s, "/") {
		s += "/"
	}
	return s, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newClient returns the client of a source with its credentials.
func newClient(src Source, creds credentials, limits Limits) (*client, error) {
	base, err := CheckURL(src.URL, src.AllowHTTP)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if src.CAFile != "" {
		pem, err := os.ReadFile(src.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate in it", src.CAFile)
		}
	}
	if src.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(src.CertFile, src.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	limits = limits.withDefaults()
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: limits.RequestTimeout,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   2,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
	}
	return &client{
		objects:  base + "objects/",
		username: src.Username,
		creds:    creds,
		limits:   limits,
		http: &http.Client{
			Transport: tr,
			Timeout:   limits.RequestTimeout,
			// A redirect could take the credentials to another host:
			// the source's URL must be the collection's own.
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return errors.New("the remote answered with a redirect; declare the URL it redirects to")
			},
		},
	}, nil
}

func (c *client) close() { c.http.CloseIdleConnections() }

// page is one page of the remote's objects.
type page struct {
	Objects     []json.RawMessage
	More        bool
	Next        string
	First, Last string // X-TAXII-Date-Added-First / -Last
}

// RemoteError is an error answer of the remote.
type RemoteError struct {
	Status int
	Title  string // the TAXII error resource's title, or the body's start
}

func (e *RemoteError) Error() string {
	if e.Title == "" {
		return fmt.Sprintf("remote answered %d", e.Status)
	}
	return fmt.Sprintf("remote answered %d: %s", e.Status, e.Title)
}

// get reads one page of objects: every version (match[version]=all,
// TAXII 2.1 section 3.4.1) of every STIX spec version (without
// match[spec_version] a server returns only each object's latest spec
// version, section 3.4.1) added after after (none when ""), continuing
// the walk of token next when set.
func (c *client) get(ctx context.Context, after, next string) (page, error) {
	q := url.Values{}
	q.Set("match[version]", "all")
	q.Set("match[spec_version]", "2.0,2.1")
	q.Set("limit", strconv.Itoa(c.limits.PageObjects))
	if after != "" {
		q.Set("added_after", after)
	}
	if next != "" {
		q.Set("next", next)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.objects+"?"+q.Encode(), nil)
	if err != nil {
		return page{}, err
	}
	req.Header.Set("Accept", mediaTAXII)
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return page{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.limits.PageBytes+1))
	if err != nil {
		return page{}, fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return page{}, remoteError(resp.StatusCode, body)
	}
	if int64(len(body)) > c.limits.PageBytes {
		return page{}, fmt.Errorf("the remote's page is larger than %d bytes", c.limits.PageBytes)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "application/taxii+json" {
		return page{}, fmt.Errorf("the remote answered %q, not a TAXII envelope", resp.Header.Get("Content-Type"))
	}
	var env struct {
		More    bool              `json:"more"`
		Next    string            `json:"next"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return page{}, fmt.Errorf("the remote's envelope: %w", err)
	}
	if len(env.Objects) > c.limits.PageObjects {
		return page{}, fmt.Errorf("the remote sent %d objects in a page, more than the limit %d asked", len(env.Objects), c.limits.PageObjects)
	}
	p := page{Objects: env.Objects, More: env.More, Next: env.Next,
		First: resp.Header.Get("X-TAXII-Date-Added-First"), Last: resp.Header.Get("X-TAXII-Date-Added-Last")}
	if len(p.Objects) > 0 {
		// TAXII 2.1 section 5.4: a 200 of Get Objects carries the
		// headers; without Last no cursor can be kept.
		if _, err := parseTime(p.Last); err != nil {
			return page{}, fmt.Errorf("the remote's X-TAXII-Date-Added-Last %q: %w", p.Last, err)
		}
	}
	return p, nil
}

func remoteError(status int, body []byte) error {
	e := &RemoteError{Status: status}
	var res struct {
		Title       string `json:"title"`
		Description string `json:"description"`
	}
	if json.Unmarshal(body, &res) == nil && res.Title != "" {
		e.Title = res.Title
		if res.Description != "" {
			e.Title += ": " + res.Description
		}
	} else {
		e.Title = strings.TrimSpace(string(body[:min(len(body), 200)]))
	}
	e.Title = Clip(strings.ToValidUTF8(e.Title, "?"))
	return e
}

// parseTime reads a TAXII timestamp (RFC 3339, UTC, any sub-second
// precision).
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("missing")
	}
	return time.Parse(time.RFC3339Nano, s)
}

// remoteStatus is the remote's status resource of a push (TAXII 2.1
// section 4.3.1).
type remoteStatus struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	TotalCount   int    `json:"total_count"`
	SuccessCount int    `json:"success_count"`
	FailureCount int    `json:"failure_count"`
	PendingCount int    `json:"pending_count"`
	Failures     []struct {
		ID      string `json:"id"`
		Version string `json:"version"`
		Message string `json:"message"`
	} `json:"failures"`
}

// apiRoot is the URL of the remote collection's API root: the collection
// URL is <api-root>collections/<id>/ (TAXII 2.1 section 5.2).
func (c *client) apiRoot() (string, error) {
	base := strings.TrimSuffix(c.objects, "objects/")
	trimmed := strings.TrimSuffix(base, "/")
	i := strings.LastIndex(trimmed, "/")
	if i < 0 || !strings.HasSuffix(trimmed[:i], "/collections") {
		return "", fmt.Errorf("the URL %s does not end in /collections/<id>/: no API root to read statuses from", base)
	}
	return strings.TrimSuffix(trimmed[:i], "collections"), nil
}

func (c *client) authorize(req *http.Request) {
	switch {
	case c.creds.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.creds.Token)
	case c.username != "":
		req.SetBasicAuth(c.username, c.creds.Password)
	}
}

// post adds objects to the remote collection (TAXII 2.1 section 5.5) and
// returns the status the remote answers.
func (c *client) post(ctx context.Context, objs []json.RawMessage) (remoteStatus, error) {
	var body bytes.Buffer
	body.WriteString(`{"objects":[`)
	for i, o := range objs {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(o)
	}
	body.WriteString(`]}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.objects, &body)
	if err != nil {
		return remoteStatus{}, err
	}
	req.Header.Set("Content-Type", mediaTAXII)
	return c.statusCall(req, http.StatusAccepted)
}

// status reads a status resource of the remote's API root.
func (c *client) status(ctx context.Context, id string) (remoteStatus, error) {
	root, err := c.apiRoot()
	if err != nil {
		return remoteStatus{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, root+"status/"+url.PathEscape(id)+"/", nil)
	if err != nil {
		return remoteStatus{}, err
	}
	return c.statusCall(req, http.StatusOK)
}

func (c *client) statusCall(req *http.Request, want int) (remoteStatus, error) {
	req.Header.Set("Accept", mediaTAXII)
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return remoteStatus{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.limits.PageBytes+1))
	if err != nil {
		return remoteStatus{}, fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode != want {
		return remoteStatus{}, remoteError(resp.StatusCode, body)
	}
	if int64(len(body)) > c.limits.PageBytes {
		return remoteStatus{}, fmt.Errorf("the remote's status is larger than %d bytes", c.limits.PageBytes)
	}
	var st remoteStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return remoteStatus{}, fmt.Errorf("the remote's status: %w", err)
	}
	if st.ID == "" || (st.Status != "pending" && st.Status != "complete") {
		return remoteStatus{}, fmt.Errorf("the remote's answer is not a status resource")
	}
	return st, nil
}

// discoverDefault reads the remote's discovery resource (TAXII 2.1
// section 4.1) at u and returns the URL of its default API root, ending
// in "/".
func (c *client) discoverDefault(ctx context.Context, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", mediaTAXII)
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("read the discovery resource: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", remoteError(resp.StatusCode, body)
	}
	var d struct {
		Default string `json:"default"`
	}
	if err := json.Unmarshal(body, &d); err != nil {
		return "", fmt.Errorf("the discovery resource: %w", err)
	}
	if d.Default == "" {
		return "", errors.New("the discovery resource names no default API root: give its URL (api_root_url)")
	}
	base, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	ref, err := url.Parse(d.Default)
	if err != nil {
		return "", fmt.Errorf("the discovery resource's default %q: %w", d.Default, err)
	}
	root := base.ResolveReference(ref).String()
	if !strings.HasSuffix(root, "/") {
		root += "/"
	}
	return root, nil
}
