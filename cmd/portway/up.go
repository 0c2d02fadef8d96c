package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/portway/portway/internal/stack"
)

func newUpCmd() *cobra.Command {
	var (
		configPath, stateDir, logLevel    string
		listen, authListen, controlListen string
		store, sidecarEngine, subnet      string
		readyTimeout, stopTimeout         time.Duration
		useTLS                            bool
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the whole stack until interrupted",
		Long: `Run the whole stack (the built-in storage-service stack, or --config FILE) in
one process: auth, gateway, load balancer, and every service's tasks. When every
service has its desired count of healthy targets, endpoints.json and
oauth-credentials.json are written to the state dir and a summary is printed.
SIGINT or SIGTERM drains and stops the tasks and exits. SIGHUP re-reads the
config: services whose task definition changed get a rolling deployment, a
changed desiredCount scales; other changes wait for the next start.

The private side (the load balancer's address and the task subnet) of the
built-in stack, or of a config without nlb.address and tasks.subnet, is the
block 127.77.0.0/23 (NLB 127.77.0.10, tasks 127.77.1.0/24) or, when another
stack holds it, the next free /23 up to 127.77.98.0/23; --subnet names one. A
start that fails leaves the state dir as it found it (but for the logs of
tasks it ran).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, flush, err := newLogger(cmd.ErrOrStderr(), logLevel)
			if err != nil {
				return err
			}
			defer flush()
			flags := cmd.Flags()
			// buildConfig reads the stack and applies the flags; a reload
			// (SIGHUP) builds it the same way.
			buildConfig := func() (stack.Config, error) {
				// Start runs every check (Preflight), and a reload
				// validates, so that all problems are reported at once.
				cfg := stack.Default()
				if configPath != "" {
					var err error
					if cfg, err = stack.Read(configPath); err != nil {
						return cfg, err
					}
				} else {
					cfg.UnsetBlock() // the default block, or the next free one
				}
				if flags.Changed("listen") {
					cfg.Gateway.Listen = listen
				}
				if flags.Changed("auth-listen") {
					cfg.Auth.Listen = authListen
				}
				if flags.Changed("control-listen") {
					cfg.Control.Listen = controlListen
				}
				if store != "" {
					cfg.Storage.Store = store
				}
				if useTLS {
					cfg.TLS.Enabled = true
				}
				switch sidecarEngine {
				case "builtin":
				case "nginx":
					cfg.UseNginxSidecar()
				default:
					return cfg, fmt.Errorf("--sidecar: %q is not one of builtin, nginx", sidecarEngine)
				}
				return cfg, nil
			}
			cfg, err := buildConfig()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := stack.Start(ctx, cfg, stack.Options{
				StateDir:     stateDir,
				Logger:       log,
				ReadyTimeout: readyTimeout,
				Subnet:       subnet,
			})
			if err != nil {
				return err
			}
			st.Summary(cmd.OutOrStdout())
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
		wait:
			for {
				select {
				case <-ctx.Done():
					break wait
				case <-hup:
					reload(st, buildConfig, log)
				}
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "portway: stopping: draining tasks…")
			stopCtx, cancel := context.WithTimeout(context.Background(), stopTimeout)
			defer cancel()
			if err := st.Stop(stopCtx); err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "portway: stopped")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "stack config file (YAML); default: the built-in storage-service stack")
	f.StringVar(&stateDir, "state-dir", defaultStateDir(), "directory for keys, clients, data, logs and endpoints.json")
	f.StringVar(&listen, "listen", stack.DefaultGatewayListen, "gateway (public API) address; port 0 picks a free port")
	f.StringVar(&authListen, "auth-listen", stack.DefaultAuthListen, "auth (token endpoint, JWKS) address")
	f.StringVar(&controlListen, "control-listen", stack.DefaultControlListen, "control API address (targets, tasks)")
	f.StringVar(&store, "store", os.Getenv("PORTWAY_STORE"), "PostgreSQL DSN for the apps' store (default $PORTWAY_STORE; empty: SQLite in the state dir)")
	f.StringVar(&sidecarEngine, "sidecar", "builtin", "sidecar engine of the built-in sidecar containers: builtin or nginx (the system's nginx)")
	f.StringVar(&subnet, "subnet", "", "private block CIDR within 127.0.0.0/8, /16 to /27: the load balancer at its lower half's address .10, the tasks in its upper half (127.77.4.0/23: NLB 127.77.4.10, tasks 127.77.5.0/24); default: nlb.address and tasks.subnet of --config, else 127.77.0.0/23 or the next free /23")
	f.BoolVar(&useTLS, "tls", false, "serve the gateway, auth and control over HTTPS with certificates from the local CA in <state-dir>/tls (see `portway ca`)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.DurationVar(&readyTimeout, "ready-timeout", 60*time.Second, "how long to wait for every service's healthy targets")
	f.DurationVar(&stopTimeout, "stop-timeout", 2*time.Minute, "upper bound for draining and stopping on exit")
	return cmd
}

// reload applies the re-read config to the running stack and logs what it
// did; a bad config changes nothing.
func reload(st *stack.Stack, build func() (stack.Config, error), log *slog.Logger) {
	cfg, err := build()
	if err == nil {
		var res stack.ReloadResult
		res, err = st.Reload(cfg)
		for svc, id := range res.Deployments {
			log.Info("reload: rolling deployment started", "service", svc, "deployment", id)
		}
		if len(res.NeedRestart) > 0 {
			log.Warn("reload: these parts changed and take effect on the next start", "parts", res.NeedRestart)
		}
	}
	if err != nil {
		log.Error("reload failed; the running stack is unchanged where the error says so", "err", err)
		return
	}
	log.Info("reload: done")
}
