package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/portway/portway/internal/trace"
)

func newTraceCmd() *cobra.Command {
	var stateDir, status string
	var asJSON bool
	var last int
	cmd := &cobra.Command{
		Use:   "trace [ID]",
		Short: "Follow one request over every hop: gateway, load balancer flow, sidecar, app",
		Long: fmt.Sprintf(`Follow one request over every hop, by its trace id (X-Amzn-Trace-Id root,
1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx, with or without "Root=") or its request id
(the x-amzn-RequestId the gateway answered with). Each hop shows when it began
(µs after the first), how long it took (µs) and what it did: the route,
client and authorizer outcome at the gateway; the listener, target group,
target chosen and connect time of the load balancer's flow; the app's status
at the sidecar, with its time; the app's status and handler time.

Without ID, --last N lists the most recent requests (newest first), --status
keeps those the gateway answered with a code (401) or class (4xx, 5xx).

The running stack keeps the last %d requests, at most %d hops each, in
memory (about 20 MiB at most); older ones are gone. Sidecars and apps report their hops
asynchronously: they may show up a fraction of a second after the request.`, trace.DefaultTraces, trace.MaxHopsPerTrace),
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if len(args) == 1 {
				if cmd.Flags().Changed("last") || status != "" {
					return errors.New("give an ID or --last/--status, not both")
				}
				var t trace.Trace
				if err := controlGet(cmd.Context(), stateDir, trace.QueryPath+"/"+url.PathEscape(args[0]), &t); err != nil {
					return err
				}
				if asJSON {
					return writeIndented(out, t)
				}
				printTrace(out, t)
				return nil
			}
			if last < 1 || last > trace.MaxLast {
				return fmt.Errorf("--last: want 1 to %d", trace.MaxLast)
			}
			if _, err := trace.ParseStatusFilter(status); err != nil {
				return fmt.Errorf("--status: %w", err)
			}
			q := url.Values{"last": {strconv.Itoa(last)}}
			if status != "" {
				q.Set("status", status)
			}
			var list struct {
				Traces []trace.Trace `json:"traces"`
			}
			if err := controlGet(cmd.Context(), stateDir, trace.QueryPath+"?"+q.Encode(), &list); err != nil {
				return err
			}
			if asJSON {
				return writeIndented(out, list)
			}
			printTraceList(out, list.Traces)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&stateDir, "state-dir", defaultStateDir(), "state dir of the running stack")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	f.IntVar(&last, "last", 20, "list the N most recent requests")
	f.StringVar(&status, "status", "", "only requests answered with this code (401) or class (4xx, 5xx)")
	return cmd
}

func writeIndented(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printTrace prints one hop a line: start offset, duration, kind, outcome.
func printTrace(w io.Writer, t trace.Trace) {
	fmt.Fprintf(w, "trace %s", t.TraceID)
	if t.RequestID != "" {
		fmt.Fprintf(w, "  request %s", t.RequestID)
	}
	fmt.Fprintf(w, "  at %s\n", time.UnixMicro(t.Start).UTC().Format("2006-01-02T15:04:05.000000Z"))
	fmt.Fprintf(w, "%10s %12s  %-8s %s\n", "START µs", "DURATION µs", "HOP", "OUTCOME")
	for _, h := range t.Hops {
		fmt.Fprintf(w, "%10s %12d  %-8s %s\n", "+"+strconv.FormatInt(h.Offset, 10), h.Duration, h.Kind, hopOutcome(h.Hop))
	}
}

// hopOutcome says what a hop did, in a line.
func hopOutcome(h trace.Hop) string {
	var parts []string
	add := func(k, v string) {
		switch {
		case v == "":
		case k == "":
			parts = append(parts, v)
		default:
			parts = append(parts, k+" "+v)
		}
	}
	switch h.Kind {
	case trace.KindGateway:
		add("", h.Method+" "+h.Path)
		add("route", h.Route)
		add("stage", h.Stage)
		add("client", h.ClientID)
		add("authorizer", h.Authorizer)
		add("status", itoa(h.Status))
		add("error", h.Error)
		if h.Integration > 0 {
			add("integration", strconv.FormatInt(h.Integration, 10)+"µs")
		}
	case trace.KindNLB:
		add("listener", h.Listener)
		add("targetGroup", h.TargetGroup)
		add("target", h.Target)
		add("flow", "#"+strconv.FormatUint(h.FlowID, 10))
		if h.Reused {
			add("", fmt.Sprintf("reused (opened %dµs before, connect took %dµs)", h.FlowAge, h.Connect))
		} else {
			add("connect", strconv.FormatInt(h.Connect, 10)+"µs")
		}
		if h.InProcess {
			add("", "in-process link")
		}
		if h.FlowLife > 0 {
			add("", fmt.Sprintf("flow closed after %dµs, %d bytes", h.FlowLife, h.FlowBytes))
		}
	case trace.KindSidecar:
		add("task", h.Task)
		add("status", itoa(h.Status))
		add("upstreamStatus", itoa(h.UpstreamStatus))
		if h.UpstreamTime > 0 {
			add("upstreamTime", strconv.FormatInt(h.UpstreamTime, 10)+"µs")
		}
		add("note", h.Error)
	case trace.KindApp:
		add("task", h.Task)
		add("", h.Method+" "+h.Path)
		add("status", itoa(h.Status))
	}
	return strings.TrimSpace(strings.Join(parts, "  "))
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// printTraceList prints a line per request: when, status, method, path,
// client, duration, trace and request ids.
func printTraceList(w io.Writer, ts []trace.Trace) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tSTATUS\tMETHOD\tPATH\tCLIENT\tAUTHORIZER\tDURATION µs\tHOPS\tTRACE\tREQUEST")
	for _, t := range ts {
		var g trace.Hop
		for _, h := range t.Hops {
			if h.Kind == trace.KindGateway {
				g = h.Hop
				break
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n",
			time.UnixMicro(t.Start).UTC().Format("15:04:05.000"), g.Status, g.Method, g.Path,
			orDash(g.ClientID), orDash(g.Authorizer), g.Duration, len(t.Hops), t.TraceID, t.RequestID)
	}
	tw.Flush()
}
