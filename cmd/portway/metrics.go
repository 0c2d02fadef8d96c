package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/portway/portway/internal/controlauth"
	"github.com/portway/portway/internal/metrics"
	"github.com/portway/portway/internal/stack"
)

// metricsFlags serve /metrics of a component run alone (gateway, auth) on
// a listener of its own, authenticated as the control API: a bearer token
// from a file (by default the control token in --state-dir), loopback
// only unless the control listener's TLS is configured.
type metricsFlags struct {
	listen, tokenFile string
}

func (f *metricsFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.listen, "metrics-listen", "", `address to serve Prometheus metrics at /metrics ("": none; a network address needs TLS: control.tls or tls.enabled in --config)`)
	cmd.Flags().StringVar(&f.tokenFile, "metrics-token-file", "", "bearer token file /metrics requires (made if missing); default <state-dir>/control-token")
}

// registry returns the registry for the component (nil without
// --metrics-listen).
func (f *metricsFlags) registry() *prometheus.Registry {
	if f.listen == "" {
		return nil
	}
	return metrics.NewRegistry()
}

// start serves reg's metrics when --metrics-listen is set; stop ends it.
func (f *metricsFlags) start(ctx context.Context, log *slog.Logger, cfg stack.Config, stateDir string, reg *prometheus.Registry) (stop func(), err error) {
	if f.listen == "" || reg == nil {
		return func() {}, nil
	}
	tokenFile, err := controlTokenFile(f.tokenFile, stateDir)
	if err != nil {
		return nil, err
	}
	if err := controlauth.CheckListen("--metrics-listen", f.listen, cfg.TLS.Enabled || cfg.Control.TLS.Own()); err != nil {
		return nil, err
	}
	tlsSet, err := cfg.BuildTLS(stateDir)
	if err != nil {
		return nil, err
	}
	token, err := controlauth.LoadOrCreateToken(tokenFile)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(metrics.Path, metrics.Handler(reg))
	srv, err := controlauth.NewServer(controlauth.ServerConfig{
		Field: "--metrics-listen", Listen: f.listen, TLS: tlsSet.Control, Token: token,
		Hint: "send Authorization: Bearer <the token in " + tokenFile + ">", Handler: mux,
	})
	if err != nil {
		return nil, err
	}
	if err := srv.Start(ctx); err != nil {
		return nil, err
	}
	log.Info("metrics listening", "url", srv.URL()+metrics.Path, "tokenFile", tokenFile)
	return func() { _ = srv.Stop(context.Background()) }, nil
}

// controlTokenFile is the token file flag's value, or the control token in
// stateDir (which it creates).
func controlTokenFile(flag, stateDir string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return "", fmt.Errorf("--state-dir: %w", err)
	}
	return filepath.Join(stateDir, controlauth.TokenFile), nil
}
