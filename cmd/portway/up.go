package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/portway/portway/internal/stack"
)

func newUpCmd() *cobra.Command {
	var (
		configPath, stateDir, logLevel    string
		listen, authListen, controlListen string
		store, sidecarEngine              string
		readyTimeout, stopTimeout         time.Duration
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the whole stack until interrupted",
		Long: `Run the whole stack (the built-in storage-service stack, or --config FILE) in
one process: auth, gateway, load balancer, and every service's tasks. When every
service has its desired count of healthy targets, endpoints.json and
oauth-credentials.json are written to the state dir and a summary is printed.
SIGINT or SIGTERM drains and stops the tasks and exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), logLevel)
			if err != nil {
				return err
			}
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			flags := cmd.Flags()
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
			switch sidecarEngine {
			case "builtin":
			case "nginx":
				cfg.UseNginxSidecar()
			default:
				return fmt.Errorf("--sidecar: %q is not one of builtin, nginx", sidecarEngine)
			}
			ctx := cmd.Context()
			st, err := stack.Start(ctx, cfg, stack.Options{
				StateDir:     stateDir,
				Logger:       log,
				ReadyTimeout: readyTimeout,
			})
			if err != nil {
				return err
			}
			st.Summary(cmd.OutOrStdout())
			<-ctx.Done()
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
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.DurationVar(&readyTimeout, "ready-timeout", 60*time.Second, "how long to wait for every service's healthy targets")
	f.DurationVar(&stopTimeout, "stop-timeout", 2*time.Minute, "upper bound for draining and stopping on exit")
	return cmd
}
