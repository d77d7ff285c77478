package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// BenchmarkMemory measures the resident memory of the taxiid process, as
// users run it, around one large push: idle, at its peak, when the push
// has been stored, and after a quiet time. See BENCHMARKS.md.
//
//	go test ./cmd/taxiid -run '^$' -bench Memory -benchtime 1x
//
// TAXIID_BENCH_PUSH_MIB sets the size of the envelope pushed (default 99,
// under the default max_content_length of 100 MiB); TAXIID_BENCH_QUIET the
// quiet time measured after it (default 70s); TAXIID_BENCH_SERVER_ENV adds
// space-separated NAME=value variables to the server's environment (GOGC,
// TAXIID_MAX_MEMORY...).
func BenchmarkMemory(b *testing.B) {
	pushMiB := 99
	if v := os.Getenv("TAXIID_BENCH_PUSH_MIB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		pushMiB = n
	}
	quiet := 70 * time.Second
	if v := os.Getenv("TAXIID_BENCH_QUIET"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatal(err)
		}
		quiet = d
	}
	env := processEnv(strings.Fields(os.Getenv("TAXIID_BENCH_SERVER_ENV"))...)
	body := indicatorEnvelope(pushMiB << 20)
	b.Logf("envelope: %d bytes", len(body))

	for range b.N {
		cmd, base, log, err := launch(b, b.TempDir(), env)
		if err != nil {
			b.Fatal(err)
		}
		pid := cmd.Process.Pid
		bc := &http.Client{Timeout: 10 * time.Minute, Transport: asAdmin{http.DefaultTransport}}
		getOK(b, bc, base+"/api1/collections/")
		time.Sleep(2 * time.Second)
		idle := vmKiB(b, pid, "VmRSS")

		pushed := time.Now()
		req, _ := http.NewRequest("POST", base+"/api1/collections/"+defaultCollectionID+"/objects/", bytes.NewReader(body))
		req.Header.Set("Accept", "application/taxii+json;version=2.1")
		req.Header.Set("Content-Type", "application/taxii+json;version=2.1")
		resp, err := bc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var st struct {
			ID           string `json:"id"`
			Status       string `json:"status"`
			SuccessCount int    `json:"success_count"`
			FailureCount int    `json:"failure_count"`
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 202 {
			b.Fatalf("push: %d %v\n%s", resp.StatusCode, err, log)
		}
		for st.Status != "complete" {
			time.Sleep(100 * time.Millisecond)
			if err := json.Unmarshal(getOK(b, bc, base+"/api1/status/"+st.ID+"/"), &st); err != nil {
				b.Fatal(err)
			}
		}
		stored := time.Since(pushed)
		if st.FailureCount != 0 {
			b.Fatalf("push: %d failures", st.FailureCount)
		}
		peak := vmKiB(b, pid, "VmHWM")
		after := vmKiB(b, pid, "VmRSS")
		samples := []string{}
		for at := 10 * time.Second; at <= quiet; at += 10 * time.Second {
			time.Sleep(10 * time.Second)
			samples = append(samples, fmt.Sprintf("+%v %d MiB (anonymous %d)", at,
				vmKiB(b, pid, "VmRSS")>>10, vmKiB(b, pid, "RssAnon")>>10))
		}
		later := vmKiB(b, pid, "VmRSS")
		b.Logf("%d objects stored in %v; RSS idle %d MiB, peak %d MiB, when stored %d MiB, then %s",
			st.SuccessCount, stored.Round(time.Millisecond), idle>>10, peak>>10, after>>10, strings.Join(samples, ", "))
		b.ReportMetric(float64(idle)/1024, "idle-MiB")
		b.ReportMetric(float64(peak)/1024, "peak-MiB")
		b.ReportMetric(float64(after)/1024, "stored-MiB")
		b.ReportMetric(float64(later)/1024, "quiet-MiB")
		cmd.Process.Kill()
		cmd.Wait()
	}
}

// indicatorEnvelope returns an envelope of distinct indicators of about
// 900 bytes each, size bytes in all at most.
func indicatorEnvelope(size int) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"objects":[`)
	for i := 0; ; i++ {
		ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05.000Z")
		obj := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%s","created":"%s","modified":"%s",`+
			`"name":"Malicious domain %d","description":"Domain observed in phishing infrastructure; resolves to command and control servers used for credential harvesting and second-stage payload delivery.",`+
			`"indicator_types":["malicious-activity"],"pattern":"[domain-name:value = 'host-%d.bad.example.net'] OR [url:value = 'http://host-%d.bad.example.net/login.php']",`+
			`"pattern_type":"stix","valid_from":"%s","kill_chain_phases":[{"kill_chain_name":"mitre-attack","phase_name":"command-and-control"}],`+
			`"labels":["phishing","c2"],"confidence":80,"external_references":[{"source_name":"internal-case","external_id":"CASE-%d","url":"https://tickets.example.org/case/%d"}]}`,
			uuid.NewString(), ts, ts, i, i, i, ts, i, i)
		if buf.Len()+len(obj)+3 > size {
			break
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(obj)
	}
	buf.WriteString(`]}`)
	return buf.Bytes()
}

// vmKiB returns a field of /proc/PID/status in KiB (VmRSS: resident
// memory now; VmHWM: its peak; RssAnon: the part that is not files
// mapped, such as the store's).
func vmKiB(b *testing.B, pid int, field string) int {
	b.Helper()
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(s)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

func getOK(b *testing.B, c *http.Client, url string) []byte {
	b.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	if resp.StatusCode != 200 {
		b.Fatalf("GET %s = %d %s", url, resp.StatusCode, buf.Bytes())
	}
	return buf.Bytes()
}
