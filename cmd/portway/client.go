package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portway/portway/internal/controlauth"
	"github.com/portway/portway/internal/nlb"
	"github.com/portway/portway/internal/stack"
)

func newTokenCmd() *cobra.Command {
	var stateDir string
	var scopes []string
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print an access token for the stack's default client",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			creds, err := stack.ReadCredentials(stateDir)
			if err != nil {
				return err
			}
			cc := clientcredentials.Config{
				ClientID:     creds.ClientID,
				ClientSecret: creds.ClientSecret,
				TokenURL:     creds.TokenURL,
				Scopes:       scopes,
			}
			ep, _ := stack.ReadEndpoints(stateDir) // for its CA file; the stack may be stopped
			if err := checkTokenScopes(ep, scopes); err != nil {
				return err
			}
			hc, err := stackClient(stateDir, ep)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Second)
			defer cancel()
			tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, hc))
			if err != nil {
				return fmt.Errorf("get a token from %s: %w", creds.TokenURL, err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok.AccessToken)
			if isTerminal(cmd.OutOrStdout()) {
				// Someone reads it: say how to use it on this stack.
				if hint := tokenHint(ep, stateDir); hint != "" {
					fmt.Fprint(cmd.ErrOrStderr(), hint)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir(), "state dir of the running stack")
	cmd.Flags().StringSliceVar(&scopes, "scope", nil, "scope to ask for (repeatable); default: every scope the client has")
	return cmd
}

// checkTokenScopes refuses a --scope the running stack does not define,
// naming those it does (nothing is checked without a running stack).
func checkTokenScopes(ep stack.Endpoints, scopes []string) error {
	defined := ep.Scopes()
	if len(defined) == 0 {
		return nil
	}
	for _, s := range scopes {
		if !slices.Contains(defined, s) {
			return fmt.Errorf("--scope %q: the running stack defines no such scope; valid scopes: %s", s, strings.Join(defined, ", "))
		}
	}
	return nil
}

// tokenHint tells how to use a token on the running stack: its example
// request (stack.Config.Example), or "" without one.
func tokenHint(ep stack.Endpoints, stateDir string) string {
	ex := ep.Example
	if ex == nil || ex.URL == "" {
		return ""
	}
	curl := "curl"
	if ep.CAFile != "" {
		curl += " --cacert " + ep.CAFile
	}
	return fmt.Sprintf("# %s; for example:\n#   TOKEN=$(portway token --state-dir %s)\n#   %s\n", ex.Describe(), stateDir, ex.Curl(curl))
}

// isTerminal reports whether w is a terminal (a person, not a pipe).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// controlToken reads the running stack's control API token.
func controlToken(stateDir string) (string, error) {
	path := filepath.Join(stateDir, controlauth.TokenFile)
	tok, err := controlauth.ReadToken(path)
	if err != nil {
		return "", fmt.Errorf("the control API needs the token in %s, which `portway up --state-dir %s` makes at its first start: %w",
			path, stateDir, err)
	}
	return tok, nil
}

// newControlRequest makes a request to path of the running stack's control
// API, with its token, and the client to send it with.
func newControlRequest(ctx context.Context, stateDir, method, path string, body io.Reader) (*http.Request, *http.Client, error) {
	ep, err := stack.ReadEndpoints(stateDir)
	if err != nil {
		return nil, nil, err
	}
	tok, err := controlToken(stateDir)
	if err != nil {
		return nil, nil, err
	}
	hc, err := stackClient(stateDir, ep)
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, ep.ControlURL+path, body)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return req, hc, nil
}

// controlGet fetches path from the running stack's control API into v.
func controlGet(ctx context.Context, stateDir, path string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, hc, err := newControlRequest(ctx, stateDir, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("control API: %w (is `portway up` running?)", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("control API: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("control API %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	return json.Unmarshal(body, v)
}

func newControlURLCmd() *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:   "control-url",
		Short: "Print the console login URL of the running stack (it holds the control token)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ep, err := stack.ReadEndpoints(stateDir)
			if err != nil {
				return err
			}
			tok, err := controlToken(stateDir)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), controlauth.LoginURL(ep.ControlURL, tok))
			return nil
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir(), "state dir of the running stack")
	return cmd
}

type targetHealth struct {
	Target struct {
		ID   string `json:"Id"`
		Port int    `json:"Port"`
	} `json:"Target"`
	HealthCheckPort string `json:"HealthCheckPort"`
	TargetHealth    struct {
		State       string `json:"State"`
		Reason      string `json:"Reason,omitempty"`
		Description string `json:"Description,omitempty"`
	} `json:"TargetHealth"`
	Connections       int64                  `json:"Connections"`
	ActiveConnections int64                  `json:"ActiveConnections"`
	LastHealthCheck   *nlb.HealthCheckResult `json:"LastHealthCheck,omitempty"`
}

// lastCheck is the LAST CHECK column: the result, how long ago, and what
// it got.
func (t targetHealth) lastCheck(now time.Time) string {
	c := t.LastHealthCheck
	if c == nil {
		return "-"
	}
	return c.Summary() + ", " + now.Sub(c.Time).Round(100*time.Millisecond).String() + " ago"
}

type targetGroupTargets struct {
	TargetGroupName          string          `json:"TargetGroupName"`
	Port                     int             `json:"Port"`
	HealthCheck              healthCheckJSON `json:"HealthCheck"`
	TargetHealthDescriptions []targetHealth  `json:"TargetHealthDescriptions"`
}

// healthCheckJSON is a target group's health check, from the fields of
// DescribeTargetGroups.
type healthCheckJSON struct {
	Protocol                string `json:"Protocol"`
	Port                    string `json:"Port"`
	Path                    string `json:"Path,omitempty"`
	IntervalMillis          int64  `json:"IntervalMillis"`
	TimeoutMillis           int64  `json:"TimeoutMillis"`
	HealthyThresholdCount   int    `json:"HealthyThresholdCount"`
	UnhealthyThresholdCount int    `json:"UnhealthyThresholdCount"`
	Matcher                 string `json:"Matcher,omitempty"`
}

// describedGroup is what the CLI reads of DescribeTargetGroups.
type describedGroup struct {
	TargetGroupName           string `json:"TargetGroupName"`
	Port                      int    `json:"Port"`
	HealthCheckProtocol       string `json:"HealthCheckProtocol"`
	HealthCheckPort           string `json:"HealthCheckPort"`
	HealthCheckPath           string `json:"HealthCheckPath"`
	HealthCheckIntervalMillis int64  `json:"HealthCheckIntervalMillis"`
	HealthCheckTimeoutMillis  int64  `json:"HealthCheckTimeoutMillis"`
	HealthyThresholdCount     int    `json:"HealthyThresholdCount"`
	UnhealthyThresholdCount   int    `json:"UnhealthyThresholdCount"`
	Matcher                   *struct {
		HttpCode string `json:"HttpCode"`
	} `json:"Matcher"`
}

func (g describedGroup) healthCheck() healthCheckJSON {
	hc := healthCheckJSON{
		Protocol: g.HealthCheckProtocol, Port: g.HealthCheckPort, Path: g.HealthCheckPath,
		IntervalMillis: g.HealthCheckIntervalMillis, TimeoutMillis: g.HealthCheckTimeoutMillis,
		HealthyThresholdCount: g.HealthyThresholdCount, UnhealthyThresholdCount: g.UnhealthyThresholdCount,
	}
	if g.Matcher != nil {
		hc.Matcher = g.Matcher.HttpCode
	}
	return hc
}

func newTargetsCmd() *cobra.Command {
	var stateDir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "targets [GROUP]",
		Short: "Show the load balancer's targets and their health",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var groups struct {
				TargetGroups []describedGroup `json:"TargetGroups"`
			}
			if err := controlGet(cmd.Context(), stateDir, "/elbv2/DescribeTargetGroups", &groups); err != nil {
				return err
			}
			out := struct {
				TargetGroups []targetGroupTargets `json:"TargetGroups"`
			}{TargetGroups: []targetGroupTargets{}}
			for _, g := range groups.TargetGroups {
				if len(args) == 1 && g.TargetGroupName != args[0] {
					continue
				}
				var th struct {
					TargetHealthDescriptions []targetHealth `json:"TargetHealthDescriptions"`
				}
				q := "/elbv2/DescribeTargetHealth?TargetGroupName=" + url.QueryEscape(g.TargetGroupName)
				if err := controlGet(cmd.Context(), stateDir, q, &th); err != nil {
					return err
				}
				out.TargetGroups = append(out.TargetGroups, targetGroupTargets{
					TargetGroupName: g.TargetGroupName, Port: g.Port, HealthCheck: g.healthCheck(),
					TargetHealthDescriptions: th.TargetHealthDescriptions,
				})
			}
			if len(args) == 1 && len(out.TargetGroups) == 0 {
				return fmt.Errorf("no target group named %q", args[0])
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			// Every registered target is listed, initial and unhealthy
			// ones with their reason, description and last check.
			now := time.Now()
			fmt.Fprintln(tw, "GROUP\tTARGET\tSTATE\tREASON\tCONNS\tACTIVE\tLAST CHECK\tDESCRIPTION")
			for _, g := range out.TargetGroups {
				for _, t := range g.TargetHealthDescriptions {
					fmt.Fprintf(tw, "%s\t%s:%d\t%s\t%s\t%d\t%d\t%s\t%s\n", g.TargetGroupName, t.Target.ID, t.Target.Port,
						t.TargetHealth.State, orDash(t.TargetHealth.Reason), t.Connections, t.ActiveConnections,
						t.lastCheck(now), orDash(t.TargetHealth.Description))
				}
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir(), "state dir of the running stack")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (ELBv2 field names)")
	return cmd
}

type taskList struct {
	Tasks []struct {
		TaskID        string `json:"taskId"`
		Service       string `json:"service"`
		LastStatus    string `json:"lastStatus"`
		DesiredStatus string `json:"desiredStatus"`
		IP            string `json:"ip"`
		Containers    []struct {
			Name       string `json:"name"`
			PID        int    `json:"pid"`
			LastStatus string `json:"lastStatus"`
			ExitCode   *int   `json:"exitCode"`
		} `json:"containers"`
		StoppedReason string `json:"stoppedReason,omitempty"`
		StopCode      string `json:"stopCode,omitempty"`
	} `json:"tasks"`
}

func newTasksCmd() *cobra.Command {
	var stateDir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "tasks",
		Short: "Show the services' tasks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var raw json.RawMessage
			if err := controlGet(cmd.Context(), stateDir, "/ecs/tasks", &raw); err != nil {
				return err
			}
			if asJSON {
				_, err := fmt.Fprintln(cmd.OutOrStdout(), string(raw))
				return err
			}
			var tl taskList
			if err := json.Unmarshal(raw, &tl); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "TASK\tSERVICE\tSTATUS\tIP\tCONTAINERS\tSTOP CODE\tREASON")
			for _, t := range tl.Tasks {
				var cs []string
				for _, c := range t.Containers {
					cs = append(cs, fmt.Sprintf("%s(pid %d, %s)", c.Name, c.PID, strings.ToLower(c.LastStatus)))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.TaskID, t.Service, t.LastStatus, t.IP, strings.Join(cs, " "), t.StopCode, t.StoppedReason)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir(), "state dir of the running stack")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newLogsCmd() *cobra.Command {
	var stateDir string
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs TASK [CONTAINER]",
		Short: "Print a task's container output (TASK may be a unique prefix of the task id)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := findTaskDir(stateDir, args[0])
			if err != nil {
				return err
			}
			pattern := "*.log"
			if len(args) == 2 {
				pattern = args[1] + ".log"
			}
			files, _ := filepath.Glob(filepath.Join(dir, pattern))
			if len(files) == 0 {
				return fmt.Errorf("task %s has no log for %q", filepath.Base(dir), strings.TrimSuffix(pattern, ".log"))
			}
			if follow {
				return followLogs(cmd.Context(), cmd.OutOrStdout(), files, 200*time.Millisecond)
			}
			for _, f := range files {
				if len(files) > 1 {
					fmt.Fprintf(cmd.OutOrStdout(), "==> %s <==\n", strings.TrimSuffix(filepath.Base(f), ".log"))
				}
				if err := copyFile(cmd.OutOrStdout(), f); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir(), "state dir of the stack")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing output as it is written, until interrupted")
	return cmd
}

// followLogs prints the files, then what is appended to them, polling every
// interval until ctx ends. A file that was rotated (replaced by a new one,
// or shrunk) is read again from its start. With several files, a
// "==> name <==" line marks each change of source, as tail -f does.
func followLogs(ctx context.Context, w io.Writer, paths []string, interval time.Duration) error {
	type followed struct {
		path string
		f    *os.File
	}
	fs := make([]*followed, len(paths))
	for i, p := range paths {
		fs[i] = &followed{path: p}
	}
	defer func() {
		for _, fl := range fs {
			if fl.f != nil {
				fl.f.Close()
			}
		}
	}()
	last := -1
	buf := make([]byte, 32<<10)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		for i, fl := range fs {
			// Reopen when the path now names another file (rotation) or
			// the file shrank.
			if fl.f != nil {
				cur, err1 := os.Stat(fl.path)
				open, err2 := fl.f.Stat()
				pos, err3 := fl.f.Seek(0, io.SeekCurrent)
				if err1 == nil && err2 == nil && err3 == nil && (!os.SameFile(cur, open) || cur.Size() < pos) {
					fl.f.Close()
					fl.f = nil
				}
			}
			if fl.f == nil {
				f, err := os.Open(fl.path)
				if err != nil {
					continue // rotated away and not yet recreated
				}
				fl.f = f
			}
			for {
				n, err := fl.f.Read(buf)
				if n > 0 {
					if len(fs) > 1 && last != i {
						fmt.Fprintf(w, "==> %s <==\n", strings.TrimSuffix(filepath.Base(fl.path), ".log"))
						last = i
					}
					if _, werr := w.Write(buf[:n]); werr != nil {
						return werr
					}
				}
				if err != nil || n == 0 {
					break
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func findTaskDir(stateDir, prefix string) (string, error) {
	matches, _ := filepath.Glob(filepath.Join(stateDir, "tasks", prefix+"*"))
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("no task %q under %s", prefix, filepath.Join(stateDir, "tasks"))
	case 1:
		return matches[0], nil
	default:
		return "", fmt.Errorf("task %q is ambiguous: %d tasks match", prefix, len(matches))
	}
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
