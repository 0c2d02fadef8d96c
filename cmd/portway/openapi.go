package main

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/portway/portway/internal/openapi"
	"github.com/portway/portway/internal/stack"
)

// localAccountID is the AWS account id in the ARNs portway writes.
const localAccountID = "000000000000"

func newFromOpenAPICmd() *cobra.Command {
	return &cobra.Command{
		Use:   "from-openapi FILE",
		Short: "Print the gateway: YAML of an API Gateway export (get-export, OpenAPI 3 or Swagger, JSON or YAML)",
		Long: `Reads what 'aws apigateway get-export --export-type oas30|swagger --parameters
extensions='integrations,authorizers'' wrote and prints the equivalent gateway:
section of a stack file. What portway cannot run is an error naming its JSON
path; what it does not run but changes nothing for clients is printed as a note
on stderr. The stage variables the integrations use are printed empty: fill
them in. (A stack file can also name the export itself: gateway.openapi.)`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			gc, notes, err := stack.GatewayFromOpenAPI(data)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			out, err := gatewayYAML(gc)
			if err != nil {
				return err
			}
			for _, n := range notes {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: %s\n", n)
			}
			if scopes := methodScopes(gc); len(scopes) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: the methods need these scopes in auth.resourceServers: %s\n", strings.Join(scopes, ", "))
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
}

func newToOpenAPICmd() *cobra.Command {
	var configPath, format, stage string
	var asYAML bool
	cmd := &cobra.Command{
		Use:   "to-openapi",
		Short: "Print the stack's REST API as API Gateway's get-export does (with the integrations and authorizers extensions)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			gc := cfg.GatewayComponent("http://127.0.0.1/issuer", "http://127.0.0.1/jwks", nil)
			region, _, _ := strings.Cut(cfg.Auth.UserPoolID, "_")
			if cfg.Auth.Region != "" {
				region = cfg.Auth.Region
			}
			out, err := openapi.Export(gc, openapi.ExportOptions{
				Format: format, Stage: stage, Extensions: true, YAML: asYAML,
				UserPoolARN: fmt.Sprintf("arn:aws:cognito-idp:%s:%s:userpool/%s", region, localAccountID, cfg.Auth.UserPoolID),
			})
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "stack config file (default: the built-in storage-service stack)")
	cmd.Flags().StringVar(&format, "format", openapi.FormatOAS30, "oas30 or swagger")
	cmd.Flags().StringVar(&stage, "stage", "", "the stage to export (default: the first)")
	cmd.Flags().BoolVar(&asYAML, "yaml", false, "YAML instead of JSON")
	return cmd
}

// gatewayYAML renders gc as a stack file's gateway: section, without the
// fields an import leaves empty (listen, responses, …).
func gatewayYAML(gc stack.GatewayConfig) ([]byte, error) {
	var n yaml.Node
	if err := n.Encode(map[string]any{"gateway": gc}); err != nil {
		return nil, err
	}
	pruneEmpty(&n)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// pruneEmpty drops mapping entries whose value is "", null, 0, [] or {}, but for
// the (empty, to be filled) values of stageVariables.
func pruneEmpty(n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		for _, c := range n.Content {
			pruneEmpty(c)
		}
		return
	}
	var kept []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		empty := (v.Kind == yaml.ScalarNode && (v.Value == "" || v.Tag == "!!null" || v.Tag == "!!int" && v.Value == "0")) ||
			((v.Kind == yaml.SequenceNode || v.Kind == yaml.MappingNode) && len(v.Content) == 0)
		if empty {
			continue
		}
		if k.Value != "stageVariables" {
			pruneEmpty(v)
		}
		kept = append(kept, k, v)
	}
	n.Content = kept
}

func methodScopes(gc stack.GatewayConfig) []string {
	set := map[string]bool{}
	for _, r := range gc.Resources {
		for _, m := range r.Methods {
			for _, s := range m.Scopes {
				set[s] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
