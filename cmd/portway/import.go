package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/portway/portway/internal/taskdef"
)

func newImportCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "import", Short: "Convert AWS definitions into stack config"}
	var opts taskdef.Options
	td := &cobra.Command{
		Use:   "task-definition FILE",
		Short: "Print an ECS task definition (describe-task-definition or register-task-definition JSON; - for stdin) as a stack services[] entry",
		Long: `Print an ECS task definition as a services[] entry of a stack file (YAML on
stdout). FILE holds the output of aws ecs describe-task-definition or the
input of aws ecs register-task-definition --cli-input-json ("-": stdin).
An nginx container becomes portway's built-in sidecar. Each field that is
ignored or changed is named on stderr by its JSON path; secrets are read
from files under secrets/ instead of Secrets Manager or SSM.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.DesiredCount < 0 {
				return fmt.Errorf("--desired-count: must be >= 0, got %d", opts.DesiredCount)
			}
			var in io.Reader = cmd.InOrStdin()
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			res, err := taskdef.Convert(in, opts)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			out, err := res.YAML()
			if err != nil {
				return err
			}
			for _, n := range res.Notes {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: %s\n", n)
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	f := td.Flags()
	f.StringVar(&opts.Service, "service", "", "the service's name (default: the task definition's family)")
	f.StringVar(&opts.TargetGroup, "target-group", "", "the target group the service registers with (default: the service's name)")
	f.IntVar(&opts.DesiredCount, "desired-count", 1, "how many tasks the service runs")
	cmd.AddCommand(td)
	return cmd
}
