package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/portway/portway/internal/atomicfile"
	"github.com/portway/portway/internal/auth"
	"github.com/portway/portway/internal/stack"
)

// The clients and keys commands work on the files in the state dir
// (<state-dir>/auth/clients.json and keys.json) through the auth package's
// stores, so they work whether or not `portway up` runs: a running server
// notices the changed files on its next request.

// stateFlags are the flags of the clients and keys commands.
type stateFlags struct {
	stateDir, config string
}

func (f *stateFlags) addStateDir(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.stateDir, "state-dir", defaultStateDir(), "state directory of the stack (holds auth/clients.json and auth/keys.json)")
}

// existingStateDir refuses a state dir that does not exist, so that
// read-only and per-client commands do not create one by mistake.
func (f *stateFlags) existingStateDir() error {
	fi, err := os.Stat(f.stateDir)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("state dir %s does not exist (run `portway up --state-dir %s` or `portway clients create --state-dir %s` first)", f.stateDir, f.stateDir, f.stateDir)
	}
	return nil
}

// openClients opens the client store of an existing state dir.
func (f *stateFlags) openClients() (*auth.ClientStore, error) {
	if err := f.existingStateDir(); err != nil {
		return nil, err
	}
	return auth.OpenClientStore(f.stateDir)
}

type clientCredentialsJSON struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

func newClientsCmd() *cobra.Command {
	var f stateFlags
	cmd := &cobra.Command{
		Use:   "clients",
		Short: "Manage the user pool's app clients (works with or without a running stack)",
		Long: `Create, list, delete app clients and rotate their secrets. The commands change
the files in the state dir; a running ` + "`portway up`" + ` on that state dir sees the
change at once.`,
	}
	f.addStateDir(cmd)
	cmd.PersistentFlags().StringVar(&f.config, "config", "", "stack config file (YAML) whose resource servers define the scopes; default: those of the stack running on --state-dir, else of the built-in stack")
	cmd.AddCommand(newClientsCreateCmd(&f), newClientsListCmd(&f), newClientsDeleteCmd(&f), newClientsRotateSecretCmd(&f))
	return cmd
}

func newClientsCreateCmd(f *stateFlags) *cobra.Command {
	var (
		name     string
		scopes   []string
		validity time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME --scope SCOPE [--scope SCOPE…] [--validity 1h]",
		Short: `Create an app client; prints {"client_id": …, "client_secret": …} (the only time the secret is shown)`,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pool, err := f.userPool()
			if err != nil {
				return err
			}
			if name == "" {
				return errors.New("--name is required")
			}
			if err := pool.checkScopes(scopes); err != nil {
				return err
			}
			if validity != 0 && (validity < auth.MinTokenValidity || validity > auth.MaxTokenValidity) {
				return fmt.Errorf("--validity %s: must be between %s and %s", validity, auth.MinTokenValidity, auth.MaxTokenValidity)
			}
			store, err := pool.openClientStore(f.stateDir)
			if err != nil {
				return err
			}
			id, secret, err := store.Create(name, scopes, validity)
			if err != nil {
				return fmt.Errorf("create client: %w", err)
			}
			return writeJSONLine(cmd.OutOrStdout(), clientCredentialsJSON{ClientID: id, ClientSecret: secret})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "client name (1-128 letters, digits, spaces and +=,.@_-)")
	cmd.Flags().StringArrayVar(&scopes, "scope", nil, "allowed scope, resourceServerIdentifier/scopeName; repeat for more")
	cmd.Flags().DurationVar(&validity, "validity", 0, "access token validity, 5m to 24h (default: the stack's tokenValidity, 1h)")
	return cmd
}

// userPool is what `clients create` checks a new client against: the
// resource servers (their scopes) and the default token validity, of the
// stack named by --config, else of the stack running on the state dir
// (its endpoints.json), else of the built-in stack.
type userPool struct {
	source   string // for errors: where the scopes come from
	servers  []auth.ResourceServer
	validity time.Duration
}

func (f *stateFlags) userPool() (userPool, error) {
	p, err := f.configuredUserPool()
	if err != nil {
		return p, err
	}
	// Resource servers made at runtime (Cognito's CreateResourceServer on
	// the AWS front door) are the pool's too.
	created, err := auth.CreatedResourceServers(f.stateDir)
	if err != nil {
		return p, err
	}
	p.servers = append(p.servers, created...)
	return p, nil
}

func (f *stateFlags) configuredUserPool() (userPool, error) {
	if f.config == "" {
		if ep, err := stack.ReadEndpoints(f.stateDir); err == nil && len(ep.ResourceServers) > 0 {
			p := userPool{source: "the stack running on " + f.stateDir}
			for _, rs := range ep.ResourceServers {
				p.servers = append(p.servers, auth.ResourceServer{Identifier: rs.Identifier, Scopes: rs.Scopes})
			}
			if ep.TokenValidity != "" {
				d, err := time.ParseDuration(ep.TokenValidity)
				if err != nil {
					return p, fmt.Errorf("%s: token_validity: %w", filepath.Join(f.stateDir, stack.EndpointsFile), err)
				}
				p.validity = d
			}
			return p, nil
		}
	}
	cfg, err := loadConfig(f.config)
	if err != nil {
		return userPool{}, err
	}
	ac := cfg.AuthComponent(f.stateDir, nil)
	p := userPool{source: "the built-in stack", servers: ac.ResourceServers, validity: ac.TokenValidity}
	if f.config != "" {
		p.source = f.config
	}
	return p, nil
}

func (p userPool) scopes() []string {
	var out []string
	for _, rs := range p.servers {
		for _, s := range rs.Scopes {
			out = append(out, rs.Identifier+"/"+s)
		}
	}
	return out
}

// checkScopes refuses a missing, malformed or undefined scope, naming the
// scopes the resource servers define.
func (p userPool) checkScopes(scopes []string) error {
	defined := p.scopes()
	if len(scopes) == 0 {
		return fmt.Errorf("--scope is required (repeat it for more than one); %s defines: %s", p.source, strings.Join(defined, ", "))
	}
	for _, s := range scopes {
		if !slices.Contains(defined, s) {
			return fmt.Errorf("--scope %q: no resource server of %s defines this scope; valid scopes: %s", s, p.source, strings.Join(defined, ", "))
		}
	}
	return nil
}

func (p userPool) openClientStore(stateDir string) (*auth.ClientStore, error) {
	opts := []auth.StoreOption{auth.WithResourceServers(p.servers)}
	if p.validity != 0 {
		opts = append(opts, auth.WithDefaultTokenValidity(p.validity))
	}
	return auth.OpenClientStore(stateDir, opts...)
}

func newClientsListCmd(f *stateFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the app clients (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := f.openClients()
			if err != nil {
				return err
			}
			clients := store.List()
			out := cmd.OutOrStdout()
			if asJSON {
				data, err := json.MarshalIndent(clients, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(out, "%s\n", data)
				return err
			}
			def := defaultClientID(f.stateDir)
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CLIENT ID\tNAME\tSCOPES\tVALIDITY\tCREATED")
			for _, c := range clients {
				name := c.Name
				if c.ID == def {
					name += " (oauth-credentials.json)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, name, strings.Join(c.AllowedScopes, " "), c.TokenValidity, c.CreatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (Cognito's DescribeUserPoolClient member names) instead of a table")
	return cmd
}

func newClientsDeleteCmd(f *stateFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete CLIENT_ID",
		Short: "Delete an app client; its secret stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := f.openClients()
			if err != nil {
				return err
			}
			if err := store.Delete(args[0]); err != nil {
				return clientErr(err, args[0], f.stateDir)
			}
			if args[0] == defaultClientID(f.stateDir) {
				fmt.Fprintf(cmd.ErrOrStderr(), "portway: %s was the client of oauth-credentials.json; the next `portway up` creates a new default client\n", args[0])
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "deleted client %s\n", args[0])
			return err
		},
	}
}

func newClientsRotateSecretCmd(f *stateFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-secret CLIENT_ID",
		Short: `Give an app client a new secret; prints {"client_id": …, "client_secret": …}; the old secret stops working at once`,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := f.openClients()
			if err != nil {
				return err
			}
			id := args[0]
			secret, err := store.RotateSecret(id)
			if err != nil {
				return clientErr(err, id, f.stateDir)
			}
			// Keep oauth-credentials.json working when it holds this client.
			if creds, err := stack.ReadCredentials(f.stateDir); err == nil && creds.ClientID == id {
				creds.ClientSecret = secret
				if err := writeCredentials(f.stateDir, creds); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "portway: warning: the secret was rotated but %s was not updated: %v\n", stack.CredentialsFile, err)
				} else {
					fmt.Fprintf(cmd.ErrOrStderr(), "portway: updated %s\n", filepath.Join(f.stateDir, stack.CredentialsFile))
				}
			}
			return writeJSONLine(cmd.OutOrStdout(), clientCredentialsJSON{ClientID: id, ClientSecret: secret})
		},
	}
}

func clientErr(err error, id, stateDir string) error {
	if errors.Is(err, auth.ErrClientNotFound) {
		return fmt.Errorf("unknown client id %q in state dir %s (see `portway clients list --state-dir %s`)", id, stateDir, stateDir)
	}
	return err
}

// defaultClientID is the client id of oauth-credentials.json, or "".
func defaultClientID(stateDir string) string {
	creds, err := stack.ReadCredentials(stateDir)
	if err != nil {
		return ""
	}
	return creds.ClientID
}

// writeCredentials rewrites oauth-credentials.json (mode 0600) atomically.
func writeCredentials(stateDir string, c stack.Credentials) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(stateDir, stack.CredentialsFile)
	return atomicfile.Write(path, append(data, '\n'), 0o600)
}

func writeJSONLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

func newKeysCmd() *cobra.Command {
	var f stateFlags
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the user pool's token signing keys (works with or without a running stack)",
		Long: `The JWKS publishes the active signing key and the next one. ` + "`keys rotate`" + ` makes the
next key the active one and adds a new next key; the old key stays published
until every token it signed has expired (24h plus a few minutes), then it is
dropped. A running ` + "`portway up`" + ` on the state dir signs with the new key at once.`,
	}
	f.addStateDir(cmd)
	var asJSON bool
	printKeys := func(w io.Writer, keys []auth.KeyInfo) error {
		if asJSON {
			data, err := json.MarshalIndent(keys, "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(w, "%s\n", data)
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KID\tSTATUS\tCREATED\tRETIRE AFTER")
		for _, k := range keys {
			retire := "-"
			if !k.RetireAfter.IsZero() {
				retire = k.RetireAfter.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.KID, k.Status, k.CreatedAt.Format(time.RFC3339), retire)
		}
		return tw.Flush()
	}
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Sign new tokens with a new key; old tokens stay valid until they expire",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ks, err := auth.OpenKeyStore(f.stateDir)
			if err != nil {
				return err
			}
			if _, err := ks.Rotate(); err != nil {
				return err
			}
			return printKeys(cmd.OutOrStdout(), ks.Keys())
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the published signing keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.existingStateDir(); err != nil {
				return err
			}
			if _, err := os.Stat(filepath.Join(f.stateDir, "auth", "keys.json")); errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("no signing keys in state dir %s yet (they are made by `portway up` or `portway keys rotate`)", f.stateDir)
			}
			ks, err := auth.OpenKeyStore(f.stateDir)
			if err != nil {
				return err
			}
			return printKeys(cmd.OutOrStdout(), ks.Keys())
		},
	}
	for _, c := range []*cobra.Command{rotate, list} {
		c.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
		cmd.AddCommand(c)
	}
	return cmd
}
