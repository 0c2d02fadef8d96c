package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

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
		Version string `json:"version"`
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
	var in e2eIngest
	resp, err := client.Post(apiURL+"/ingests", "application/json", strings.NewReader(fmt.Sprintf(bagIngestBody, typ, source, ext)))
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
	if in.Status.ID != "succeeded" || in.Bag.Version != "v1" {
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
	if in := postIngest(t, client, ep.APIURL, "update", "b1-v2.tar.gz", "b1"); in.Status.ID != "succeeded" || in.Bag.Version != "v2" {
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
		if in.Status.ID != "succeeded" || in.Bag.Version != "v1" || started != 1 {
			t.Errorf("ingest %s: %s %s, started %d times: %+v", in.ID, in.Status.ID, in.Bag.Version, started, in.Events)
		}
	}
	up.stop(t)
}
