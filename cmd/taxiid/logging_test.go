package main

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestLogFormat: with --log-format json every line the server writes is one
// JSON object; a bad format or level stops the start with a message naming
// it.
func TestLogFormat(t *testing.T) {
	cmd := exec.Command(binary, "serve", "--log-format", "json", "--data", t.TempDir())
	cmd.Env = processEnv()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	deadline := time.After(20 * time.Second)
	for listening := false; !listening; {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("taxiid exited before listening")
			}
			var rec struct {
				Level, Msg, Addr string
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Level == "" || rec.Msg == "" {
				t.Fatalf("log line %q is not a JSON record with level and msg: %v", line, err)
			}
			listening = rec.Msg == "taxiid listening" && strings.HasPrefix(rec.Addr, "http://")
		case <-deadline:
			t.Fatal("no listening line within 20 s")
		}
	}

	for _, tc := range []struct{ args, want []string }{
		{[]string{"--log-format", "xml"}, []string{"log-format must be text or json"}},
		{[]string{"--log-level", "loud"}, []string{"log-level"}},
	} {
		cmd := exec.Command(binary, append([]string{"serve", "--data", t.TempDir()}, tc.args...)...)
		cmd.Env = processEnv()
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("serve %v started; want a refusal", tc.args)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("serve %v said %q; want it to name %q", tc.args, out, w)
			}
		}
	}
}
