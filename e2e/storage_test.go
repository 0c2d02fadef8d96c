package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portway/portway/internal/storage/pgtest"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to make and drop the test's schema
	"golang.org/x/oauth2/clientcredentials"
	_ "modernc.org/sqlite" // the "sqlite" driver, to count the stack's ingests

	"github.com/portway/portway/internal/stack"
	"github.com/portway/portway/internal/storage/bagtest"
)

const bagIngestBody = `{"type": "Ingest",
 "ingestType": {"id": "%s", "type": "IngestType"},
 "space": {"id": "digitised", "type": "Space"},
 "sourceLocation": {"type": "Location", "provider": {"type": "Provider", "id": "amazon-s3"},
                    "bucket": "uploads", "path": "%s"},
 "bag": {"type": "Bag", "info": {"type": "BagInfo", "externalIdentifier": "%s"}}}`

type e2eIngest struct {
	ID     string `json:"id"`
	Status struct {
		ID string `json:"id"`
	} `json:"status"`
	Bag struct {
		Info struct {
			Version string `json:"version"`
		} `json:"info"`
	} `json:"bag"`
	Events []struct {
		Description string `json:"description"`
	} `json:"events"`
}

// postIngest creates an ingest through the gateway and polls it until it
// has succeeded or failed.
func postIngest(t *testing.T, client *http.Client, apiURL, typ, source, ext string) e2eIngest {
	t.Helper()
	in, err := tryPostIngest(client, apiURL, typ, source, ext)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// tryPostIngest is postIngest for any goroutine.
func tryPostIngest(client *http.Client, apiURL, typ, source, ext string) (e2eIngest, error) {
	return tryPostIngestBody(client, apiURL, fmt.Sprintf(bagIngestBody, typ, source, ext))
}

// tryPostIngestBody posts an ingest request body and polls the ingest
// until it has succeeded or failed.
func tryPostIngestBody(client *http.Client, apiURL, reqBody string) (e2eIngest, error) {
	var in e2eIngest
	resp, err := client.Post(apiURL+"/ingests", "application/json", strings.NewReader(reqBody))
	if err != nil {
		return in, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return in, fmt.Errorf("POST /ingests: %d %s", resp.StatusCode, body)
	}
	loc := resp.Header.Get("Location")
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get(loc)
		if err != nil {
			return in, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		in = e2eIngest{}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &in) != nil {
			return in, fmt.Errorf("GET %s: %d %s", loc, resp.StatusCode, body)
		}
		if in.Status.ID == "succeeded" || in.Status.ID == "failed" {
			return in, nil
		}
		if time.Now().After(deadline) {
			return in, fmt.Errorf("ingest %s still %s after 60s: %+v", in.ID, in.Status.ID, in.Events)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition, bounded by the deadline
	}
}

// TestBagIngestThroughTheGateway stores a generated BagIt bag through the
// whole path: the ingests tasks' workers process it, the bags API serves
// its manifest; an update adds v2; a corrupt bag fails with its event.
func TestBagIngestThroughTheGateway(t *testing.T) {
	stateDir := t.TempDir()
	up := startUp(t, stateDir, "--config", writeConfig(t, testStack(40)))
	var ep stack.Endpoints
	readJSONFile(t, filepath.Join(stateDir, stack.EndpointsFile), &ep)
	var creds map[string]string
	readJSONFile(t, filepath.Join(stateDir, stack.CredentialsFile), &creds)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	client := (&clientcredentials.Config{ClientID: creds["client_id"], ClientSecret: creds["client_secret"], TokenURL: creds["token_url"]}).Client(ctx)
	client.Timeout = 30 * time.Second

	gen := bagtest.MustBuild(t, bagtest.Options{ExternalIdentifier: "b1", Prefix: "b1"})
	gen.WriteFile(t, filepath.Join(stateDir, "buckets", "uploads", "b1.tar.gz"))
	in := postIngest(t, client, ep.APIURL, "create", "b1.tar.gz", "b1")
	if in.Status.ID != "succeeded" || in.Bag.Info.Version != "v1" {
		t.Fatalf("ingest: %+v", in)
	}

	var m struct {
		ID       string `json:"id"`
		Version  string `json:"version"`
		Manifest struct {
			ChecksumAlgorithm string `json:"checksumAlgorithm"`
			Files             []struct {
				Name, Path, Checksum string
				Size                 int64
			} `json:"files"`
		} `json:"manifest"`
	}
	resp := getJSON(t, client, ep.APIURL+"/bags/digitised/b1", &m)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != `"digitised/b1/v1"` || m.ID != "digitised/b1" ||
		m.Manifest.ChecksumAlgorithm != "SHA-256" || len(m.Manifest.Files) != len(gen.Payload) {
		t.Fatalf("GET bag: %d %+v", resp.StatusCode, m)
	}
	for _, f := range m.Manifest.Files {
		g := gen.Payload[f.Name]
		if f.Checksum != g.Sums["sha256"] || f.Size != g.Size || f.Path != "v1/"+f.Name {
			t.Errorf("manifest file %+v, generated %+v", f, g)
		}
	}

	gen2 := bagtest.MustBuild(t, bagtest.Options{ExternalIdentifier: "b1", Files: map[string]string{"data/v2.txt": "two"}})
	gen2.WriteFile(t, filepath.Join(stateDir, "buckets", "uploads", "b1-v2.tar.gz"))
	if in := postIngest(t, client, ep.APIURL, "update", "b1-v2.tar.gz", "b1"); in.Status.ID != "succeeded" || in.Bag.Info.Version != "v2" {
		t.Fatalf("update: %+v", in)
	}
	var versions struct {
		Results []struct{ Version string } `json:"results"`
	}
	getJSON(t, client, ep.APIURL+"/bags/digitised/b1/versions", &versions)
	if len(versions.Results) != 2 || versions.Results[0].Version != "v2" || versions.Results[1].Version != "v1" {
		t.Fatalf("versions: %+v", versions)
	}

	bad := bagtest.MustBuild(t, bagtest.Options{ExternalIdentifier: "b2", BadChecksum: "data/a.txt"})
	bad.WriteFile(t, filepath.Join(stateDir, "buckets", "uploads", "b2.tar.gz"))
	in = postIngest(t, client, ep.APIURL, "create", "b2.tar.gz", "b2")
	last := ""
	if len(in.Events) > 0 {
		last = in.Events[len(in.Events)-1].Description
	}
	if in.Status.ID != "failed" || last != "Verification failed - checksum mismatch for data/a.txt" {
		t.Fatalf("corrupt bag: %+v", in)
	}
	var notFound map[string]any
	if resp := getJSON(t, client, ep.APIURL+"/bags/digitised/b2", &notFound); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("failed bag served: %d %v", resp.StatusCode, notFound)
	}

	// Every kind of bad ingest fails with its event.
	other := "other"
	for _, tt := range []struct {
		name, typ, ext string
		o              *bagtest.Options // nil: no source
		want           string
	}{
		{"wrong external identifier", "create", "f1", &bagtest.Options{InfoIdentifier: &other},
			"Verification failed - External-Identifier in bag-info.txt (other) does not match the ingest's (f1)"},
		{"missing file", "create", "f2", &bagtest.Options{MissingFile: "data/a.txt"},
			"Verification failed - missing file data/a.txt listed in manifest-sha256.txt"},
		{"extra file", "create", "f3", &bagtest.Options{ExtraFile: "data/x.txt"},
			"Verification failed - unlisted payload file data/x.txt (not in manifest-sha256.txt)"},
		{"path escape", "create", "f4", &bagtest.Options{ExtraEntries: []bagtest.Entry{{Name: "../../evil", Data: "x"}}},
			"Unpacking failed - entry ../../evil escapes the archive (.. in path)"},
		{"missing source", "create", "f5", nil,
			"Unpacking failed - there is no archive at uploads/missing source.tar.gz"},
		{"duplicate create", "create", "b1", &bagtest.Options{},
			"Assigning bag version failed - bag digitised/b1 already exists; use an update ingest to add a version"},
		{"update of a missing bag", "update", "f6", &bagtest.Options{},
			"Assigning bag version failed - bag digitised/f6 does not exist; use a create ingest for a new bag"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.name + ".tar.gz"
			if tt.o != nil {
				tt.o.ExternalIdentifier = tt.ext
				bagtest.MustBuild(t, *tt.o).WriteFile(t, filepath.Join(stateDir, "buckets", "uploads", src))
			}
			in := postIngest(t, client, ep.APIURL, tt.typ, src, tt.ext)
			last := ""
			if len(in.Events) > 0 {
				last = in.Events[len(in.Events)-1].Description
			}
			if in.Status.ID != "failed" || last != tt.want {
				t.Fatalf("%s, last event %q\nwant failed, %q", in.Status.ID, last, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(stateDir, "evil")); err == nil {
		t.Fatal("the path-escape tar wrote outside the work directory")
	}

	// The callback URL gets the final ingest.
	type callback struct {
		ID     string `json:"id"`
		Type   string `json:"type"`
		Status struct {
			ID string `json:"id"`
		} `json:"status"`
	}
	received := make(chan callback, 4)
	cbSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var cb callback
		if r.Method == http.MethodPost && r.Header.Get("Content-Type") == "application/json" && json.NewDecoder(r.Body).Decode(&cb) == nil {
			received <- cb
		}
	}))
	t.Cleanup(cbSrv.Close)
	bagtest.MustBuild(t, bagtest.Options{ExternalIdentifier: "cb1"}).WriteFile(t, filepath.Join(stateDir, "buckets", "uploads", "cb1.tar.gz"))
	withCallback := strings.Replace(fmt.Sprintf(bagIngestBody, "create", "cb1.tar.gz", "cb1"), `"bag":`,
		`"callback": {"type": "Callback", "url": "`+cbSrv.URL+`/cb"}, "bag":`, 1)
	in, err := tryPostIngestBody(client, ep.APIURL, withCallback)
	if err != nil || in.Status.ID != "succeeded" {
		t.Fatalf("ingest with callback: %+v %v", in, err)
	}
	select {
	case cb := <-received:
		if cb.ID != in.ID || cb.Type != "Ingest" || cb.Status.ID != "succeeded" {
			t.Fatalf("callback got %+v", cb)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no callback within 30s")
	}
	var withStatus struct {
		Callback struct {
			Status struct {
				ID string `json:"id"`
			} `json:"status"`
		} `json:"callback"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		getJSON(t, client, ep.APIURL+"/ingests/"+in.ID, &withStatus)
		if withStatus.Callback.Status.ID == "succeeded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("callback status %q after 30s", withStatus.Callback.Status.ID)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition, bounded by the deadline
	}
	up.stop(t)
}

// TestConcurrentBagIngests sends many ingests at once: the two ingests
// tasks' workers share them out and process each exactly once.
func TestConcurrentBagIngests(t *testing.T) {
	stateDir := t.TempDir()
	up := startUp(t, stateDir, "--config", writeConfig(t, testStack(41)))
	var ep stack.Endpoints
	readJSONFile(t, filepath.Join(stateDir, stack.EndpointsFile), &ep)
	var creds map[string]string
	readJSONFile(t, filepath.Join(stateDir, stack.CredentialsFile), &creds)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	client := (&clientcredentials.Config{ClientID: creds["client_id"], ClientSecret: creds["client_secret"], TokenURL: creds["token_url"]}).Client(ctx)
	client.Timeout = 30 * time.Second

	const n = 12
	type result struct {
		in  e2eIngest
		err error
	}
	results := make(chan result, n)
	for i := range n {
		ext := fmt.Sprintf("c%d", i)
		bagtest.MustBuild(t, bagtest.Options{ExternalIdentifier: ext}).WriteFile(t, filepath.Join(stateDir, "buckets", "uploads", ext+".tar.gz"))
	}
	for i := range n {
		go func() {
			ext := fmt.Sprintf("c%d", i)
			in, err := tryPostIngest(client, ep.APIURL, "create", ext+".tar.gz", ext)
			results <- result{in, err}
		}()
	}
	for range n {
		r := <-results
		if r.err != nil {
			t.Error(r.err)
			continue
		}
		in, started := r.in, 0
		for _, e := range in.Events {
			if e.Description == "Unpacking started" {
				started++
			}
		}
		if in.Status.ID != "succeeded" || in.Bag.Info.Version != "v1" || started != 1 {
			t.Errorf("ingest %s: %s %s, started %d times: %+v", in.ID, in.Status.ID, in.Bag.Info.Version, started, in.Events)
		}
	}
	up.stop(t)
}

// stackClient is an OAuth client of the stack's built-in credentials.
func stackClient(t *testing.T, stateDir string) (*http.Client, stack.Endpoints) {
	t.Helper()
	var ep stack.Endpoints
	readJSONFile(t, filepath.Join(stateDir, stack.EndpointsFile), &ep)
	var creds map[string]string
	readJSONFile(t, filepath.Join(stateDir, stack.CredentialsFile), &creds)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	client := (&clientcredentials.Config{ClientID: creds["client_id"], ClientSecret: creds["client_secret"], TokenURL: creds["token_url"]}).Client(ctx)
	client.Timeout = 30 * time.Second
	return client, ep
}

// getIngest fetches an ingest by its URL. While a killed task is being
// replaced the load balancer may still send a request to it (the sidecar
// answers 502 until the health checks take the task out), so 5xx answers
// are retried for a while.
func getIngest(t *testing.T, client *http.Client, loc string) e2eIngest {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(loc)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var in e2eIngest
		switch {
		case resp.StatusCode == http.StatusOK && json.Unmarshal(body, &in) == nil:
			return in
		case resp.StatusCode < 500 || time.Now().After(deadline):
			t.Fatalf("GET %s: %d %s", loc, resp.StatusCode, body)
		}
		time.Sleep(100 * time.Millisecond) // polling a condition, bounded by the deadline
	}
}

// waitIngestDone polls an ingest until it has succeeded or failed.
func waitIngestDone(t *testing.T, client *http.Client, loc string, within time.Duration) e2eIngest {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		in := getIngest(t, client, loc)
		if in.Status.ID == "succeeded" || in.Status.ID == "failed" {
			return in
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest %s still %s after %s: %+v", in.ID, in.Status.ID, within, in.Events)
		}
		time.Sleep(100 * time.Millisecond) // polling a condition, bounded by the deadline
	}
}

func countEvents(in e2eIngest, desc string) int {
	n := 0
	for _, e := range in.Events {
		if e.Description == desc {
			n++
		}
	}
	return n
}

// claimingTask waits for the app log line of the task whose worker has
// claimed the ingest and returns that task's id (its directory's name).
func claimingTask(t *testing.T, stateDir, ingestID string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		logs, _ := filepath.Glob(filepath.Join(stateDir, "tasks", "*", "app.log"))
		for _, l := range logs {
			data, _ := os.ReadFile(l)
			for _, line := range strings.Split(string(data), "\n") {
				if strings.Contains(line, `msg="ingest claimed"`) && strings.Contains(line, "ingest_id="+ingestID) {
					return filepath.Base(filepath.Dir(l))
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no task logged claiming ingest %s within %s", ingestID, within)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, bounded by the deadline
	}
}

// appPID is the pid of the app container of a running task.
func appPID(t *testing.T, stateDir, taskID string) int {
	t.Helper()
	out, stderr, err := runPortway(t, "tasks", "--json", "--state-dir", stateDir)
	if err != nil {
		t.Fatalf("portway tasks: %v\n%s", err, stderr)
	}
	var tl struct {
		Tasks []struct {
			TaskID     string `json:"taskId"`
			Containers []struct {
				Name string `json:"name"`
				PID  int    `json:"pid"`
			} `json:"containers"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(out), &tl); err != nil {
		t.Fatalf("portway tasks --json: %v\n%s", err, out)
	}
	for _, task := range tl.Tasks {
		if task.TaskID != taskID {
			continue
		}
		for _, c := range task.Containers {
			if c.Name == "app" && c.PID > 0 {
				return c.PID
			}
		}
	}
	t.Fatalf("task %s has no running app container: %s", taskID, out)
	return 0
}

// bigBag is a valid bag large enough that storing it takes a while (the
// worker checksums, unpacks and copies, syncing, every file).
func bigBag(t *testing.T, ext string, files, size int) *bagtest.Bag {
	t.Helper()
	block := strings.Repeat("portway big bag payload ", size/24+1)[:size]
	fs := make(map[string]string, files)
	for i := range files {
		name := fmt.Sprintf("data/f%04d.bin", i)
		fs[name] = name + block[len(name):]
	}
	return bagtest.MustBuild(t, bagtest.Options{ExternalIdentifier: ext, Files: fs})
}

// TestKilledTaskIngestCompletes kills (SIGKILL: no cleanup, the lease
// stays) the app of the ingests task working on a large bag; once the
// lease (15 s in the built-in stack) expires another task's worker takes
// the ingest over and it succeeds.
func TestKilledTaskIngestCompletes(t *testing.T) {
	stateDir := t.TempDir()
	up := startUp(t, stateDir, "--config", writeConfig(t, testStack(42)))
	client, ep := stackClient(t, stateDir)

	const files, size = 400, 256 << 10 // 100 MiB
	gen := bigBag(t, "big", files, size)
	gen.WriteFile(t, filepath.Join(stateDir, "buckets", "uploads", "big.tar.gz"))
	resp, err := client.Post(ep.APIURL+"/ingests", "application/json", strings.NewReader(fmt.Sprintf(bagIngestBody, "create", "big.tar.gz", "big")))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /ingests: %d %s", resp.StatusCode, body)
	}
	loc := resp.Header.Get("Location")
	id := loc[strings.LastIndex(loc, "/")+1:]

	start := time.Now()
	task := claimingTask(t, stateDir, id, 30*time.Second)
	pid := appPID(t, stateDir, task)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill app %d of task %s: %v", pid, task, err)
	}
	killedAfter := time.Since(start)
	deadline := time.Now().Add(10 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("app %d still alive after SIGKILL", pid)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, bounded by the deadline
	}
	before := getIngest(t, client, loc)
	if before.Status.ID != "processing" {
		t.Fatalf("the ingest was not mid-way when its task was killed (%s after the claim): %s %+v; make the bag bigger",
			killedAfter, before.Status.ID, before.Events)
	}
	t.Logf("killed app %d of task %s %s after the claim; events then: %d", pid, task, killedAfter.Round(time.Millisecond), len(before.Events))

	// The lease is 15 s; then up to a poll (1 s) and the whole ingest again.
	in := waitIngestDone(t, client, loc, 120*time.Second)
	t.Logf("ingest %s %s %s after the kill", in.ID, in.Status.ID, time.Since(start).Round(time.Millisecond))
	if in.Status.ID != "succeeded" || in.Bag.Info.Version != "v1" {
		t.Fatalf("after the kill: %s %s %+v", in.Status.ID, in.Bag.Info.Version, in.Events)
	}
	if n := countEvents(in, "Unpacking started"); n != 2 {
		t.Errorf("want the ingest started twice (killed task, then its successor), got %d: %+v", n, in.Events)
	}
	var m struct {
		Version  string `json:"version"`
		Manifest struct {
			Files []struct{ Name, Checksum string } `json:"files"`
		} `json:"manifest"`
	}
	if resp := getJSON(t, client, ep.APIURL+"/bags/digitised/big", &m); resp.StatusCode != http.StatusOK || m.Version != "v1" || len(m.Manifest.Files) != files {
		t.Fatalf("GET bag: %d %s %d files", resp.StatusCode, m.Version, len(m.Manifest.Files))
	}
	for _, f := range m.Manifest.Files {
		if f.Checksum != gen.Payload[f.Name].Sums["sha256"] {
			t.Errorf("%s: checksum %s, generated %s", f.Name, f.Checksum, gen.Payload[f.Name].Sums["sha256"])
		}
	}
	// The successor (or the killed task's replacement) swept the dead
	// worker's scratch directories, or its own are gone after success.
	up.stop(t)
	for _, d := range []string{filepath.Join(stateDir, "work"), filepath.Join(stateDir, "storage", ".staging")} {
		left, _ := filepath.Glob(filepath.Join(d, id+"-*"))
		if len(left) != 0 {
			t.Errorf("scratch directories left behind: %q", left)
		}
	}
}

// freshPostgresSchema gives the test a PostgreSQL schema of its own (see
// pgtest), or skips it.
func freshPostgresSchema(t *testing.T) (dsn string, db *sql.DB, schema string) {
	t.Helper()
	return pgtest.FreshSchema(t, pgtest.DSN(t), "e2e_")
}

// TestBagIngestOnPostgres runs the stack with `--store postgres://…`: every
// bags and ingests task shares the PostgreSQL store, not the SQLite file.
func TestBagIngestOnPostgres(t *testing.T) {
	dsn, db, schema := freshPostgresSchema(t)
	stateDir := t.TempDir()
	up := startUp(t, stateDir, "--config", writeConfig(t, testStack(43)), "--store", dsn)
	client, ep := stackClient(t, stateDir)

	gen := bagtest.MustBuild(t, bagtest.Options{ExternalIdentifier: "PP/MIA/1"})
	gen.WriteFile(t, filepath.Join(stateDir, "buckets", "uploads", "pp.tar.gz"))
	in := postIngest(t, client, ep.APIURL, "create", "pp.tar.gz", "PP/MIA/1")
	if in.Status.ID != "succeeded" || in.Bag.Info.Version != "v1" {
		t.Fatalf("ingest: %+v", in)
	}
	var m struct {
		ID       string `json:"id"`
		Version  string `json:"version"`
		Manifest struct {
			Files []struct {
				Name, Checksum string
			} `json:"files"`
		} `json:"manifest"`
	}
	resp := getJSON(t, client, ep.APIURL+"/bags/digitised/PP%2FMIA%2F1", &m)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != `"digitised/PP/MIA/1/v1"` || m.ID != "digitised/PP/MIA/1" ||
		len(m.Manifest.Files) != len(gen.Payload) {
		t.Fatalf("GET bag: %d %+v", resp.StatusCode, m)
	}
	for _, f := range m.Manifest.Files {
		if f.Checksum != gen.Payload[f.Name].Sums["sha256"] {
			t.Errorf("%s: checksum %s, generated %s", f.Name, f.Checksum, gen.Payload[f.Name].Sums["sha256"])
		}
	}
	// The ingest and the manifest are in PostgreSQL.
	var ingests, manifests int
	if err := db.QueryRowContext(t.Context(), `SELECT (SELECT COUNT(*) FROM `+schema+`.ingests), (SELECT COUNT(*) FROM `+schema+`.storage_manifests)`).Scan(&ingests, &manifests); err != nil {
		t.Fatal(err)
	}
	if ingests != 1 || manifests != 1 {
		t.Fatalf("PostgreSQL schema %s has %d ingests, %d manifests", schema, ingests, manifests)
	}
	up.stop(t)
	// The password shows in no output or log.
	u, _ := url.Parse(dsn)
	if pw, ok := u.User.Password(); ok && pw != "" {
		secret := ":" + pw + "@"
		logs, _ := filepath.Glob(filepath.Join(stateDir, "tasks", "*", "app.log"))
		if len(logs) < 4 {
			t.Errorf("want the app logs of 4 tasks, found %q", logs)
		}
		outputs := map[string]string{"portway up's output": up.stdout.String() + up.stderr.String()}
		for _, l := range logs {
			data, _ := os.ReadFile(l)
			outputs[l] = string(data)
		}
		for name, out := range outputs {
			if strings.Contains(out, secret) {
				t.Errorf("the store's password appears in %s", name)
			}
		}
	}
}

// TestCallbackToTheStackIsRefused: an ingest whose callback is the load
// balancer's own ingests listener would make the app take its callback as
// a new ingest, with the same callback, for ever. The worker refuses the
// stack's addresses: no connection, the callback fails with an event
// saying why, and no second ingest appears.
func TestCallbackToTheStackIsRefused(t *testing.T) {
	stateDir := t.TempDir()
	cfg := testStack(44)
	up := startUp(t, stateDir, "--config", writeConfig(t, cfg))
	client, ep := stackClient(t, stateDir)

	port := 0
	for _, l := range cfg.NLB.Listeners {
		if l.TargetGroup == "ingests" {
			port = l.Port
		}
	}
	target := fmt.Sprintf("%s:%d", cfg.NLB.Address, port)
	body := strings.Replace(fmt.Sprintf(bagIngestBody, "create", "loop.tar.gz", "loop"), `"bag":`,
		`"callback": {"type": "Callback", "url": "http://`+target+`/ingests"}, "bag":`, 1)
	in, err := tryPostIngestBody(client, ep.APIURL, body)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Callback struct {
			Status struct {
				ID string `json:"id"`
			} `json:"status"`
		} `json:"callback"`
		Events []struct {
			Description string `json:"description"`
		} `json:"events"`
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		getJSON(t, client, ep.APIURL+"/ingests/"+in.ID, &got)
		if s := got.Callback.Status.ID; s == "succeeded" || s == "failed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("callback still %q after 60s", got.Callback.Status.ID)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition, bounded by the deadline
	}
	last := ""
	if len(got.Events) > 0 {
		last = got.Events[len(got.Events)-1].Description
	}
	if want := "Callback refused - " + target + " is an address of this stack"; got.Callback.Status.ID != "failed" || last != want {
		t.Fatalf("callback %s, last event %q\nwant failed, %q", got.Callback.Status.ID, last, want)
	}

	// A delivered callback is a 201 before its status is written, so by
	// now a second ingest would be in the store.
	db, err := sql.Open("sqlite", filepath.Join(stateDir, "storage.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM ingests").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d ingests in the store, want the one", n)
	}
	up.stop(t)
}
