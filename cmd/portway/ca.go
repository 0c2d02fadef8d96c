package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/portway/portway/internal/pki"
	"github.com/portway/portway/internal/stack"
)

func newCACmd() *cobra.Command {
	var stateDir string
	var pemOnly bool
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Print the local CA of `portway up --tls` and how to trust it",
		Long: `Print where the local certificate authority's certificate is and how to make
clients trust it. The CA is made in <state-dir>/tls/ the first time it is
needed (by this command or by portway up --tls) and kept across restarts, so
a client set up once keeps working. --pem prints the certificate itself.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ca, err := pki.LoadOrCreateCA(filepath.Join(stateDir, stack.TLSDir), nil)
			if err != nil {
				return err
			}
			if pemOnly {
				data, err := os.ReadFile(ca.CertFile())
				if err != nil {
					return err
				}
				_, err = cmd.OutOrStdout().Write(data)
				return err
			}
			abs, err := filepath.Abs(ca.CertFile())
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), pki.TrustHelp(abs))
			return nil
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir(), "state dir of the stack")
	cmd.Flags().BoolVar(&pemOnly, "pem", false, "print the CA certificate (PEM) only")
	return cmd
}
