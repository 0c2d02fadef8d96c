// Command imageapp is the service the container tests ship as an image
// (FROM scratch, this static binary as /app): a small HTTP API on
// $LISTEN (default :9001) that tells who answered and what it sees.
//
//	GET  /healthz       200 "ok"
//	GET  /env           its environment, as a JSON object
//	GET  /metadata      the task metadata document from $ECS_CONTAINER_METADATA_URI_V4/task
//	POST /echo          the request body back
//	any  other          {"task": $PORTWAY_TASK_ID, "hostname", "method", "path"}
//
// With $UPSTREAM set (http://localhost:9001) it is a reverse proxy to it
// instead, as a sidecar in front of the app in the same task.
//
// `/app healthcheck` GETs /healthz on localhost and exits 0 on 200: a
// health check command for an image without a shell. SIGTERM shuts the
// server down gracefully.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	listen := os.Getenv("LISTEN")
	if listen == "" {
		listen = ":9001"
	}
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		port := listen[strings.LastIndex(listen, ":")+1:]
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://127.0.0.1:" + port + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			fmt.Println("unhealthy:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	host, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("GET /env", func(w http.ResponseWriter, r *http.Request) {
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		json.NewEncoder(w).Encode(env)
	})
	mux.HandleFunc("GET /metadata", func(w http.ResponseWriter, r *http.Request) {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get(os.Getenv("ECS_CONTAINER_METADATA_URI_V4") + "/task")
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, io.LimitReader(resp.Body, 1<<20))
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(b)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"task": os.Getenv("PORTWAY_TASK_ID"), "hostname": host, "method": r.Method, "path": r.URL.Path,
		})
	})
	var handler http.Handler = mux
	if up := os.Getenv("UPSTREAM"); up != "" {
		u, err := url.Parse(up)
		if err != nil {
			fmt.Fprintln(os.Stderr, "imageapp: UPSTREAM:", err)
			os.Exit(2)
		}
		proxy := httputil.NewSingleHostReverseProxy(u)
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Proxied-By", host)
			proxy.ServeHTTP(w, r)
		})
	}
	srv := &http.Server{Addr: listen, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		s := <-sig
		fmt.Println("imageapp: got", s, "- shutting down")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	fmt.Println("imageapp: listening on", listen)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "imageapp:", err)
		os.Exit(1)
	}
	fmt.Println("imageapp: stopped")
}
