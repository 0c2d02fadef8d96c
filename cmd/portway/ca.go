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
	cmd.PersistentFlags().StringVar(&stateDir, "state-dir", defaultStateDir(), "state dir of the stack")
	cmd.Flags().BoolVar(&pemOnly, "pem", false, "print the CA certificate (PEM) only")
	cmd.AddCommand(newCAIssueCmd(&stateDir))
	return cmd
}

func newCAIssueCmd(stateDir *string) *cobra.Command {
	var certFile, keyFile string
	cmd := &cobra.Command{
		Use:   "issue NAME...",
		Short: "Issue a server certificate from the local CA, for a component on another host",
		Long: `Issue a server certificate (valid 90 days) for the given host names and IP
addresses, signed by the local CA, and write it and its key (mode 0600) as PEM
files. Give them to a component on another host as its listener's tls.certFile
and tls.keyFile, and the CA (portway ca --pem) to its clients as tls.caFile.`,
		Example: `  portway ca issue auth.internal 10.0.0.5 --cert-file auth.pem --key-file auth-key.pem`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			if certFile == "" || keyFile == "" {
				return fmt.Errorf("--cert-file and --key-file are required")
			}
			ca, err := pki.LoadOrCreateCA(filepath.Join(*stateDir, stack.TLSDir), nil)
			if err != nil {
				return err
			}
			c, err := ca.Issue(names)
			if err != nil {
				return err
			}
			if err := pki.WriteFiles(c, pki.Files{CertFile: certFile, KeyFile: keyFile}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (until %s) and %s, signed by %s\n",
				certFile, c.Leaf.NotAfter.Format("2006-01-02"), keyFile, ca.CertFile())
			return nil
		},
	}
	cmd.Flags().StringVar(&certFile, "cert-file", "", "where to write the certificate (PEM)")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "where to write the private key (PEM, mode 0600)")
	return cmd
}
