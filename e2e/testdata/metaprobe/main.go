// Command metaprobe is a task container for the e2e tests: an app on
// -listen that answers /management/healthcheck, and GET /probe with what
// it sees of its task: its environment and the documents its
// ECS_CONTAINER_METADATA_URI_V4 serves.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	listen := flag.String("listen", "", "host:port")
	flag.Parse()
	client := &http.Client{Timeout: 5 * time.Second}
	fetch := func(url string) (json.RawMessage, error) {
		resp, err := client.Get(url)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return b, nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/management/healthcheck", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/probe", func(w http.ResponseWriter, r *http.Request) {
		uri := os.Getenv("ECS_CONTAINER_METADATA_URI_V4")
		out := map[string]any{"env": os.Environ()}
		var err error
		if out["container"], err = fetch(uri); err == nil {
			out["task"], err = fetch(uri + "/task")
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
