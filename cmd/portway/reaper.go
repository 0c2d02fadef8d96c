package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/portway/portway/internal/docker"
)

// newDockerReaperCmd is the watchdog `portway up` starts for its image
// containers (internal/docker/watchdog.go): it waits for its stdin to
// close, then removes the run's containers. Not for users.
func newDockerReaperCmd() *cobra.Command {
	var host, stateDir, run string
	cmd := &cobra.Command{
		Use:    "docker-reaper",
		Short:  "Remove a run's containers once `portway up` is gone (started by up)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// up's own end decides: the terminal's signals are not ours.
			signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
			n, err := docker.Reap(cmd.Context(), os.Stdin, host, stateDir, run)
			if n > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "portway docker-reaper: removed %d containers that portway up (run %s) left behind\n", n, run)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&host, "host", "", "Docker Engine API address (default $DOCKER_HOST or the default socket)")
	f.StringVar(&stateDir, "state-dir", "", "the stack's state dir (absolute, as in the containers' labels)")
	f.StringVar(&run, "run", "", "the run ID in the containers' labels")
	return cmd
}
