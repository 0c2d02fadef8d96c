package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// serviceStatus mirrors ecs.ServiceStatus as the control API returns it.
type serviceStatus struct {
	Name         string             `json:"name"`
	DesiredCount int                `json:"desiredCount"`
	RunningCount int                `json:"runningCount"`
	PendingCount int                `json:"pendingCount"`
	Deployments  []deploymentStatus `json:"deployments"`
	LastFailure  string             `json:"lastFailure,omitempty"`
	Events       []struct {
		CreatedAt time.Time `json:"createdAt"`
		Message   string    `json:"message"`
	} `json:"events"`
}

// deploymentStatus mirrors ecs.DeploymentStatus.
type deploymentStatus struct {
	ID                 string `json:"id"`
	Status             string `json:"status"`
	DesiredCount       int    `json:"desiredCount"`
	RunningCount       int    `json:"runningCount"`
	PendingCount       int    `json:"pendingCount"`
	FailedTasks        int    `json:"failedTasks"`
	RolloutState       string `json:"rolloutState"`
	RolloutStateReason string `json:"rolloutStateReason"`
}

// String is the deployment as `portway services` shows it: its counts and
// state, the tasks that failed in a row, and the circuit breaker's reason
// (a failure or a rollback); the routine "in progress" and "completed"
// reasons are left out.
func (d deploymentStatus) String() string {
	s := fmt.Sprintf("%s %s %d/%d %s", d.ID, strings.ToLower(d.Status), d.RunningCount, d.DesiredCount, strings.ToLower(d.RolloutState))
	if d.FailedTasks > 0 {
		s += fmt.Sprintf(", %d failed tasks", d.FailedTasks)
	}
	if strings.HasPrefix(d.RolloutStateReason, "ECS deployment circuit breaker") {
		s += " (" + d.RolloutStateReason + ")"
	}
	return s
}

// failed explains why deployment id failed, or returns "" when it did not
// (or is no longer listed).
func (s serviceStatus) failed(id string) string {
	for _, d := range s.Deployments {
		if d.ID != id || d.RolloutState != "FAILED" {
			continue
		}
		msg := fmt.Sprintf("%s: deployment %s failed: %s", s.Name, id, d.RolloutStateReason)
		if p := s.Deployments[0]; p.ID != id && p.RolloutStateReason != "" {
			msg += " (" + p.RolloutStateReason + ")"
		}
		return msg
	}
	return ""
}

// done reports whether the service has one deployment, fully RUNNING.
func (s serviceStatus) done() bool {
	return len(s.Deployments) == 1 && s.Deployments[0].RolloutState == "COMPLETED"
}

// controlPost POSTs body (JSON, may be nil) to path of the running stack's
// control API and decodes the answer into v.
func controlPost(ctx context.Context, stateDir, path string, body, v any) error {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, hc, err := newControlRequest(ctx, stateDir, http.MethodPost, path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("control API: %w (is `portway up` running?)", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("control API: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &e) == nil && e.Message != "" {
			return fmt.Errorf("control API %s: %s", path, e.Message)
		}
		return fmt.Errorf("control API %s: %s: %s", path, resp.Status, strings.TrimSpace(string(data)))
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(data, v)
}

// maxEventsShown is how many events `portway services --events` prints
// per service.
const maxEventsShown = 20

func newServicesCmd() *cobra.Command {
	var stateDir string
	var asJSON, events bool
	cmd := &cobra.Command{
		Use:   "services",
		Short: "Show the services, their counts and deployments; scale and deploy them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var raw json.RawMessage
			if err := controlGet(cmd.Context(), stateDir, "/ecs/services", &raw); err != nil {
				return err
			}
			if asJSON {
				_, err := fmt.Fprintln(cmd.OutOrStdout(), string(raw))
				return err
			}
			var list struct {
				Services []serviceStatus `json:"services"`
			}
			if err := json.Unmarshal(raw, &list); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SERVICE\tDESIRED\tRUNNING\tPENDING\tDEPLOYMENTS\tLAST FAILURE")
			for _, s := range list.Services {
				var deps []string
				for _, d := range s.Deployments {
					deps = append(deps, d.String())
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\n", s.Name, s.DesiredCount, s.RunningCount, s.PendingCount,
					strings.Join(deps, "; "), s.LastFailure)
			}
			if err := tw.Flush(); err != nil || !events {
				return err
			}
			out := cmd.OutOrStdout()
			for _, s := range list.Services {
				fmt.Fprintf(out, "\n%s events (newest first):\n", s.Name)
				for i, e := range s.Events {
					if i == maxEventsShown {
						break
					}
					fmt.Fprintf(out, "  %s  %s\n", e.CreatedAt.UTC().Format(time.DateTime), e.Message)
				}
			}
			return nil
		},
	}
	cmd.PersistentFlags().StringVar(&stateDir, "state-dir", defaultStateDir(), "state dir of the running stack")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&events, "events", false, fmt.Sprintf("also print each service's latest events (at most %d)", maxEventsShown))

	cmd.AddCommand(&cobra.Command{
		Use:   "scale NAME COUNT",
		Short: "Set a service's desired count",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 0 {
				return fmt.Errorf("COUNT: %q is not a number >= 0", args[1])
			}
			var st serviceStatus
			path := "/ecs/services/" + url.PathEscape(args[0]) + "/scale"
			if err := controlPost(cmd.Context(), stateDir, path, map[string]int{"desiredCount": n}, &st); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: desired %d (running %d, pending %d)\n", st.Name, st.DesiredCount, st.RunningCount, st.PendingCount)
			return nil
		},
	})

	var wait bool
	var timeout time.Duration
	deploy := &cobra.Command{
		Use:   "deploy NAME",
		Short: "Start a rolling deployment: new tasks, healthy first, then old ones drained and stopped",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var st serviceStatus
			path := "/ecs/services/" + url.PathEscape(args[0])
			if err := controlPost(cmd.Context(), stateDir, path+"/deploy", nil, &st); err != nil {
				return err
			}
			if len(st.Deployments) == 0 {
				return errors.New("control API: deployment not reported")
			}
			id := st.Deployments[0].ID
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s: deployment %s started\n", st.Name, id)
			if !wait {
				return nil
			}
			w := &deployWatch{src: controlDeploySource{stateDir: stateDir, name: st.Name}, out: out, name: st.Name, id: id, every: 250 * time.Millisecond}
			return w.run(cmd.Context(), timeout)
		},
	}
	deploy.Flags().BoolVar(&wait, "wait", false, "wait until the deployment has completed, printing a line per change (tasks started, target health, old tasks drained, failures and why); exit 0 only when it completed")
	deploy.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "with --wait: how long to wait (then exit 1 naming what is pending)")
	cmd.AddCommand(deploy)
	return cmd
}
