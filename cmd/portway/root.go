package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/portway/portway/internal/logbuf"
	"github.com/portway/portway/internal/stack"
)

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "portway",
		Short: "API Gateway + Cognito + NLB + ECS, on your machine",
		Long: `portway runs the request path of a service behind API Gateway (with a Cognito
authorizer), a private network load balancer and ECS tasks, on one machine:
client → gateway → auth check → load balancer → task sidecar → app.

  portway up        run the whole stack (the built-in storage service by default)
  portway token     print an access token for the running stack`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionText(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newUpCmd(),
		newVersionCmd(),
		newTokenCmd(),
		newClientsCmd(),
		newKeysCmd(),
		newTargetsCmd(),
		newTasksCmd(),
		newServicesCmd(),
		newControlURLCmd(),
		newLogsCmd(),
		newTraceCmd(),
		newConfigCmd(),
		newCACmd(),
		newAuthCmd(),
		newGatewayCmd(),
		newNLBCmd(),
		newSidecarCmd(),
		newAppCmd(),
		newImportCmd(),
		newDockerReaperCmd(),
	)
	return root
}

// newLogger logs text lines to w at the level named by --log-level. Lines
// are batched (logbuf): written out within 100 ms, at once from warnings
// up (a recovered panic is logged as an error), and by flush, which the
// caller defers. Until then flushLogs writes them out too.
func newLogger(w io.Writer, level string) (log *slog.Logger, flush func(), err error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, nil, fmt.Errorf("--log-level: %q is not one of debug, info, warn, error", level)
	}
	lw := logbuf.New(w, 0, 0)
	openLogs.Store(lw, struct{}{})
	flush = func() {
		openLogs.Delete(lw)
		_ = lw.Close()
	}
	return slog.New(logbuf.NewTextHandler(lw, l, slog.LevelWarn)), flush, nil
}

// openLogs holds the batched log writers of newLogger not yet flushed for
// good: flushLogs writes out what they hold before the process exits on
// its own terms (a second signal) or of a panic on the main goroutine.
var openLogs sync.Map // *logbuf.Writer → struct{}

func flushLogs() {
	openLogs.Range(func(w, _ any) bool {
		_ = w.(*logbuf.Writer).Flush()
		return true
	})
}

// loadConfig reads the stack file, or returns the built-in stack when path
// is empty.
func loadConfig(path string) (stack.Config, error) {
	if path == "" {
		return stack.Default(), nil
	}
	return stack.Load(path)
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with stack config files"}
	cmd.AddCommand(&cobra.Command{
		Use:   "default",
		Short: "Print the built-in storage-service stack as YAML, a starting point for --config",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := stack.Default().Marshal()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(data)
			return err
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Run every check `portway up` makes before it starts, on a stack file (problems fail; warnings are printed)",
		Long: `Run every check that ` + "`portway up`" + ` makes before it binds a port: the file's
fields and the references between them, each component's own validation,
certificate files, the control listener's rule, the wiring of the private side
(the task subnet must not hold the load balancer's address; a service's
containerPort must be its sidecar's --listen port), and what this machine must
have (container executables on $PATH and executable, nginx for the nginx
engine). Every problem is printed with its YAML path; any problem fails.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("read stack config: %w", err)
			}
			cfg, err := stack.Decode(data) // the path prefixes each problem below
			if err == nil {
				exe, _ := os.Executable() // the binary the containers would run
				err = cfg.Preflight(exe)
			}
			if err != nil {
				problems := strings.Split(err.Error(), "\n")
				for _, p := range problems {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", args[0], p)
				}
				return fmt.Errorf("%s: %d problem(s)", args[0], len(problems))
			}
			for _, w := range append(cfg.Warnings(), cfg.ImageWarnings(cmd.Context())...) {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", args[0])
			return nil
		},
	})
	cmd.AddCommand(newFromOpenAPICmd(), newToOpenAPICmd())
	return cmd
}

func defaultStateDir() string {
	if d := os.Getenv("PORTWAY_STATE_DIR"); d != "" {
		return d
	}
	return ".portway"
}
