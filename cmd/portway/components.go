package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/portway/portway/internal/auth"
	"github.com/portway/portway/internal/controlauth"
	"github.com/portway/portway/internal/egress"
	"github.com/portway/portway/internal/gateway"
	"github.com/portway/portway/internal/metrics"
	"github.com/portway/portway/internal/nlb"
	"github.com/portway/portway/internal/sidecar"
	"github.com/portway/portway/internal/stack"
	"github.com/portway/portway/internal/storage/app"
	"github.com/portway/portway/internal/trace"
)

// component is a part of the stack that can run alone.
type component interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// serve starts c, runs until ctx ends, then stops c within 30 s.
func serve(ctx context.Context, log *slog.Logger, name string, c component, addr func() string) error {
	if err := c.Start(ctx); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	log.Info("listening", "component", name, "addr", addr())
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.Stop(stopCtx)
}

// componentFlags are the flags every component subcommand has.
type componentFlags struct {
	config, logLevel string
}

func (f *componentFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.config, "config", "", "stack config file (YAML); default: the built-in stack")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
}

// load reads the stack config and makes the logger; the caller defers flush.
func (f *componentFlags) load(cmd *cobra.Command) (cfg stack.Config, log *slog.Logger, flush func(), err error) {
	log, flush, err = newLogger(cmd.ErrOrStderr(), f.logLevel)
	if err != nil {
		return stack.Config{}, nil, nil, err
	}
	cfg, err = loadConfig(f.config)
	return cfg, log, flush, err
}

func newAuthCmd() *cobra.Command {
	var cf componentFlags
	var mf metricsFlags
	var listen, stateDir string
	cmd := &cobra.Command{
		Use:   "auth",
		Short: "Run the auth server (token endpoint and JWKS) alone",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, flush, err := cf.load(cmd)
			if flush != nil {
				defer flush()
			}
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("listen") {
				cfg.Auth.Listen = listen
			}
			tlsSet, err := cfg.BuildTLS(stateDir)
			if err != nil {
				return err
			}
			acfg := cfg.AuthComponent(stateDir, log)
			acfg.TLS = tlsSet.Auth
			reg := mf.registry()
			if reg != nil {
				acfg.Metrics = reg
			}
			srv, err := auth.New(acfg)
			if err != nil {
				return err
			}
			stop, err := mf.start(cmd.Context(), log, cfg, stateDir, reg)
			if err != nil {
				return err
			}
			defer stop()
			return serve(cmd.Context(), log, "auth", srv, srv.URL)
		},
	}
	cf.add(cmd)
	mf.add(cmd)
	cmd.Flags().StringVar(&listen, "listen", stack.DefaultAuthListen, "address to listen on")
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir(), "directory for keys and clients")
	return cmd
}

func newGatewayCmd() *cobra.Command {
	var cf componentFlags
	var mf metricsFlags
	var listen, issuer, jwksURL, stateDir, accessLog string
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Run the API gateway alone, authorizing against a remote auth server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, flush, err := cf.load(cmd)
			if flush != nil {
				defer flush()
			}
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("listen") {
				cfg.Gateway.Listen = listen
			}
			if issuer == "" || jwksURL == "" {
				return fmt.Errorf("--issuer and --jwks-url are required (the auth server's issuer, e.g. http://auth-host:8081/%s, and its JWKS URL)", cfg.Auth.UserPoolID)
			}
			tlsSet, err := cfg.BuildTLS(stateDir)
			if err != nil {
				return err
			}
			gcfg := cfg.GatewayComponent(issuer, jwksURL, log)
			gcfg.TLS = tlsSet.Gateway
			gcfg.Authorizer.ClientTLS = tlsSet.Client
			if accessLog != "" {
				al, file, err := cfg.Gateway.AccessLog.OpenAccessLog(accessLog)
				if err != nil {
					return fmt.Errorf("--access-log: %w", err)
				}
				defer file.Close()
				gcfg.AccessLog = al
			}
			reg := mf.registry()
			if reg != nil {
				gcfg.Metrics = reg
			}
			gw, err := gateway.New(gcfg)
			if err != nil {
				return err
			}
			stop, err := mf.start(cmd.Context(), log, cfg, stateDir, reg)
			if err != nil {
				return err
			}
			defer stop()
			return serve(cmd.Context(), log, "gateway", gw, gw.URL)
		},
	}
	cf.add(cmd)
	mf.add(cmd)
	cmd.Flags().StringVar(&listen, "listen", stack.DefaultGatewayListen, "address to listen on")
	cmd.Flags().StringVar(&issuer, "issuer", "", "token issuer the authorizer accepts")
	cmd.Flags().StringVar(&accessLog, "access-log", "", "write the access log here (JSON lines in gateway.accessLog.format, rotated by its maxSizeMiB and maxFiles) instead of as \"access\" lines on stderr")
	cmd.Flags().StringVar(&jwksURL, "jwks-url", "", "URL of the issuer's JWKS (https: trusted with the system's roots and tls.caFile)")
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir(), "directory of the local CA (tls/) when tls.enabled and the gateway has no certFile of its own")
	return cmd
}

func newNLBCmd() *cobra.Command {
	var cf componentFlags
	var controlListen, stateDir, tokenFile string
	cmd := &cobra.Command{
		Use:   "nlb",
		Short: "Run the load balancer alone; targets are registered through its control API",
		Long: `Run the load balancer alone; targets are registered through its control API.
Every control request needs "Authorization: Bearer <token>", the token in
--control-token-file (default <--state-dir>/control-token, made at the first
start, mode 0600). Targets must be within nlb.targetCIDRs (default loopback).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, flush, err := cf.load(cmd)
			if flush != nil {
				defer flush()
			}
			if err != nil {
				return err
			}
			if tokenFile, err = controlTokenFile(tokenFile, stateDir); err != nil {
				return err
			}
			if err := controlauth.CheckListen("--control-listen", controlListen, cfg.TLS.Enabled || cfg.Control.TLS.Own()); err != nil {
				return err
			}
			tlsSet, err := cfg.BuildTLS(stateDir)
			if err != nil {
				return err
			}
			token, err := controlauth.LoadOrCreateToken(tokenFile)
			if err != nil {
				return err
			}
			ncfg := cfg.NLBComponent(log.With("component", "nlb"))
			reg := metrics.NewRegistry()
			ncfg.Metrics = reg
			lb, err := nlb.New(ncfg)
			if err != nil {
				return err
			}
			// The control listener serves the ELBv2 API and /metrics.
			mux := http.NewServeMux()
			mux.Handle(metrics.Path, metrics.Handler(reg))
			mux.Handle("/", lb.ControlHandler())
			ctl, err := controlauth.NewServer(controlauth.ServerConfig{
				Field: "--control-listen", Listen: controlListen, TLS: tlsSet.Control, Token: token,
				Hint: "send Authorization: Bearer <the token in " + tokenFile + ">", Handler: mux,
			})
			if err != nil {
				return err
			}
			if err := ctl.Start(cmd.Context()); err != nil {
				return err
			}
			defer ctl.Stop(context.Background())
			log.Info("control API listening", "url", ctl.URL(), "tokenFile", tokenFile)
			return serve(cmd.Context(), log, "nlb", lb, func() string { return cfg.NLB.Address })
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVar(&controlListen, "control-listen", stack.DefaultControlListen, "control API address (a network address needs TLS: control.tls or tls.enabled in --config)")
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir(), "directory of the control token file (and of the local CA with tls.enabled)")
	cmd.Flags().StringVar(&tokenFile, "control-token-file", "", "control API token file (made if missing); default <state-dir>/control-token")
	return cmd
}

func newSidecarCmd() *cobra.Command {
	var listen, upstream, logLevel, serverHeader string
	var proxyProtocol bool
	var proxyHeaderTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "sidecar",
		Short: "Run the nginx-style sidecar: CORS and forwarding headers in front of an app",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, flush, err := newLogger(cmd.ErrOrStderr(), logLevel)
			if err != nil {
				return err
			}
			defer flush()
			scfg := sidecar.Config{
				Listen: listen, Upstream: upstream, Logger: log,
				ProxyProtocol: proxyProtocol, ProxyHeaderTimeout: proxyHeaderTimeout,
				ServerHeader: serverHeader,
			}
			if rep := startReporter(log); rep != nil {
				defer stopReporter(rep)
				scfg.Traces = rep
			}
			sc, err := sidecar.New(scfg)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), log, "sidecar", sc, sc.Addr)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", stack.DefaultSidecarListen, "address to listen on")
	cmd.Flags().StringVar(&upstream, "upstream", "http://127.0.0.1:9001", "the app's URL")
	cmd.Flags().BoolVar(&proxyProtocol, "proxy-protocol", false, "require a PROXY protocol v1/v2 header on every connection (target group proxyProtocolV2)")
	cmd.Flags().DurationVar(&proxyHeaderTimeout, "proxy-header-timeout", 5*time.Second, "how long to wait for the PROXY header")
	cmd.Flags().StringVar(&serverHeader, "server-header", "nginx", `the Server field of every answer, as nginx sends it (the app's is hidden); "" sends none`)
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

func newAppCmd() *cobra.Command {
	var kind, listen, db, store, stateDir, logLevel, callbackAllow, callbackDeny string
	var workers int
	var pollInterval, leaseDuration time.Duration
	cmd := &cobra.Command{
		Use:   "app",
		Short: "Run a storage-service app: the bags API or the ingests API (with its ingest worker)",
		Long: `Run a storage-service app. Both apps share one store: SQLite at --db by
default, or PostgreSQL with --store postgres://… (or $PORTWAY_STORE, which
keeps the password out of the process list).

Callbacks go only where --callback-allow and --callback-deny let them: a
loopback or private address only inside an allowed CIDR, never a denied
address (an IP, IP:port or CIDR: the addresses of the stack the app runs
in), never link-local, multicast or broadcast. portway up sets both for its
tasks, as $PORTWAY_CALLBACK_ALLOW and $PORTWAY_CALLBACK_DENY.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, flush, err := newLogger(cmd.ErrOrStderr(), logLevel)
			if err != nil {
				return err
			}
			defer flush()
			if store == "" {
				store = os.Getenv("PORTWAY_STORE")
			}
			callbacks, err := callbackPolicy(cmd, callbackAllow, callbackDeny)
			if err != nil {
				return err
			}
			acfg := app.Config{
				Kind: kind, Listen: listen, DBPath: db, Store: store, StateDir: stateDir,
				WorkerConcurrency: workers, PollInterval: pollInterval, LeaseDuration: leaseDuration,
				Callbacks: callbacks, Logger: log,
			}
			if rep := startReporter(log); rep != nil {
				defer stopReporter(rep)
				acfg.Traces = rep
			}
			a, err := app.New(acfg)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), log, kind, a, a.Addr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "kind", "", "which app: bags or ingests")
	f.StringVar(&listen, "listen", "127.0.0.1:9001", "address to listen on")
	f.StringVar(&db, "db", ".portway/storage.db", "SQLite database file shared by the apps")
	f.StringVar(&store, "store", "", "PostgreSQL DSN (postgres://…) instead of SQLite; default $PORTWAY_STORE")
	f.StringVar(&stateDir, "state-dir", "", "directory of buckets/ (ingest sources) and storage/ (stored bags); default: the --db file's directory")
	f.IntVar(&workers, "worker-concurrency", 0, "ingests processed at once by this app's worker (0: 2; negative: no worker)")
	f.DurationVar(&pollInterval, "poll-interval", 0, "how often the worker looks for new ingests (default 1s)")
	f.DurationVar(&leaseDuration, "lease-duration", 0, "how long a worker's claim on an ingest lasts without renewal (default 1m)")
	f.StringVar(&callbackAllow, "callback-allow", "", "CIDRs (comma-separated) whose loopback and private addresses callbacks may go to; default $"+stack.EnvCallbackAllow)
	f.StringVar(&callbackDeny, "callback-deny", "", "addresses (comma-separated IP, IP:port or CIDR) callbacks never go to; default $"+stack.EnvCallbackDeny)
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

// callbackPolicy is the app's callback policy from --callback-allow and
// --callback-deny, or the environment variables in their place; an error
// names where the bad entry came from ("--callback-deny: deny[1]: …").
func callbackPolicy(cmd *cobra.Command, allow, deny string) (egress.Config, error) {
	list := func(flag, env, val string) ([]string, string) {
		if !cmd.Flags().Changed(flag) {
			return splitList(os.Getenv(env)), "$" + env
		}
		return splitList(val), "--" + flag
	}
	allowList, allowFrom := list("callback-allow", stack.EnvCallbackAllow, allow)
	denyList, denyFrom := list("callback-deny", stack.EnvCallbackDeny, deny)
	if err := (egress.Config{Allow: allowList}).Validate(); err != nil {
		return egress.Config{}, fmt.Errorf("%s: %w", allowFrom, err)
	}
	if err := (egress.Config{Deny: denyList}).Validate(); err != nil {
		return egress.Config{}, fmt.Errorf("%s: %w", denyFrom, err)
	}
	return egress.Config{Allow: allowList, Deny: denyList}, nil
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// startReporter starts the hop reporter `portway up` asks for in the task's
// environment ($PORTWAY_TRACE_URL, $PORTWAY_TRACE_TOKEN), or returns nil.
func startReporter(log *slog.Logger) *trace.Reporter {
	rep := trace.ReporterFromEnv(log)
	if rep != nil {
		rep.Start()
	}
	return rep
}

// stopReporter sends what is queued, for two seconds at most.
func stopReporter(rep *trace.Reporter) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rep.Stop(ctx)
}
