package main

import (
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// printedPassword finds the generated password in a taxiid log: the
// indented line after the notice.
var printedPassword = regexp.MustCompile(`(?m)created the first user "admin".*\n\n {4}(\S+)\n`)

// statusAs sends GET path to base with the Authorization header auth ("":
// none) and returns the status and the WWW-Authenticate header.
func statusAs(t *testing.T, base, path, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	// The default transport: client would sign in by itself.
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}

func basicHeader(user, password string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, password)
	return r.Header.Get("Authorization")
}

// stop ends a taxiid process with SIGTERM and waits for it.
func stop(t *testing.T, cmd *exec.Cmd, log *syncLog) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-log.done
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, log)
	}
}

// TestFirstStartGeneratesAdminPassword: the first start of an empty store
// prints a generated password for the user admin, once; it signs in with
// HTTP Basic, while requests without credentials are challenged. A later
// start prints nothing and ignores TAXIID_ADMIN_PASSWORD.
func TestFirstStartGeneratesAdminPassword(t *testing.T) {
	dir := t.TempDir()
	cmd, base, log := startEnv(t, dir, []string{"TAXIID_LISTEN=127.0.0.1:0"})
	m := printedPassword.FindAllStringSubmatch(log.String(), -1)
	if len(m) != 1 {
		t.Fatalf("generated password printed %d times; want once:\n%s", len(m), log)
	}
	password := m[0][1]
	if len(password) < 20 {
		t.Errorf("generated password %q is shorter than 20 characters", password)
	}
	if n := strings.Count(log.String(), password); n != 1 {
		t.Errorf("the password appears %d times in the output; want once", n)
	}

	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"no credentials", "", http.StatusUnauthorized},
		{"generated password", basicHeader("admin", password), http.StatusOK},
		{"wrong password", basicHeader("admin", password+"x"), http.StatusUnauthorized},
	} {
		status, challenge := statusAs(t, base, "/taxii2/", tc.auth)
		if status != tc.want {
			t.Errorf("%s: GET /taxii2/ = %d; want %d", tc.name, status, tc.want)
		}
		if status == http.StatusUnauthorized && challenge != `Basic realm="taxiid"` {
			t.Errorf("%s: WWW-Authenticate = %q", tc.name, challenge)
		}
	}
	stop(t, cmd, log)

	_, base, log = startEnv(t, dir, []string{"TAXIID_LISTEN=127.0.0.1:0", adminPasswordEnv + "=another password"})
	if strings.Contains(log.String(), "created the first user") || strings.Contains(log.String(), password) {
		t.Errorf("a second start created or printed the admin again:\n%s", log)
	}
	if !strings.Contains(log.String(), adminPasswordEnv+" ignored") {
		t.Errorf("the log does not say that %s was ignored:\n%s", adminPasswordEnv, log)
	}
	if status, _ := statusAs(t, base, "/taxii2/", basicHeader("admin", password)); status != http.StatusOK {
		t.Errorf("after restart, the generated password: GET /taxii2/ = %d; want 200", status)
	}
	if status, _ := statusAs(t, base, "/taxii2/", basicHeader("admin", "another password")); status != http.StatusUnauthorized {
		t.Errorf("after restart, the ignored password: GET /taxii2/ = %d; want 401", status)
	}
}

// TestAdminPasswordFromEnvironment: with TAXIID_ADMIN_PASSWORD the first
// admin gets that password, and nothing is printed.
func TestAdminPasswordFromEnvironment(t *testing.T) {
	_, base, log := startEnv(t, t.TempDir(), []string{"TAXIID_LISTEN=127.0.0.1:0", adminPasswordEnv + "=s3cret of the operators"})
	if printedPassword.MatchString(log.String()) || strings.Contains(log.String(), "s3cret") {
		t.Errorf("a password was printed:\n%s", log)
	}
	if status, _ := statusAs(t, base, "/api1/collections/", basicHeader("admin", "s3cret of the operators")); status != http.StatusOK {
		t.Errorf("GET /api1/collections/ as admin = %d; want 200", status)
	}
	token := "Bearer taxiid_" + strings.Repeat("0", 49)
	if status, _ := statusAs(t, base, "/api1/collections/", token); status != http.StatusUnauthorized {
		t.Errorf("GET /api1/collections/ with an unknown token = %d; want 401", status)
	}
}

// TestAuditRetentionFlag: the retention of audit events, in days or as a
// duration, from the flag or the environment.
func TestAuditRetentionFlag(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    time.Duration
		wantErr string
	}{
		{"default", nil, nil, 365 * 24 * time.Hour, ""},
		{"days", []string{"--audit-retention", "90d"}, nil, 90 * 24 * time.Hour, ""},
		{"duration", []string{"--audit-retention", "36h"}, nil, 36 * time.Hour, ""},
		{"for ever", []string{"--audit-retention", "0"}, nil, 0, ""},
		{"environment", nil, map[string]string{"TAXIID_AUDIT_RETENTION": "30d"}, 30 * 24 * time.Hour, ""},
		{"flag over environment", []string{"--audit-retention", "7d"}, map[string]string{"TAXIID_AUDIT_RETENTION": "30d"}, 7 * 24 * time.Hour, ""},
		{"bad environment", nil, map[string]string{"TAXIID_AUDIT_RETENTION": "a year"}, 0, `TAXIID_AUDIT_RETENTION: "a year" is not a duration`},
		{"negative", []string{"--audit-retention", "-5h"}, nil, 0, "audit-retention must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseFlags(tc.args, env(tc.env), nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v; want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, time.Duration(cfg.AuditRetention)); diff != "" {
				t.Errorf("retention (-want +got):\n%s", diff)
			}
		})
	}
}
