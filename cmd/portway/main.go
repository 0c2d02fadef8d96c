// Command portway runs the request path of API Gateway + Cognito + NLB + ECS
// on one machine: `portway up` runs the whole stack; every component is also
// a subcommand of its own so that it can run on its own host.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	// A panic that reaches this goroutine still runs deferred calls before
	// the process dies: the batched log lines go out first. (The request
	// paths recover their panics; see h1.Server.Panic and package nlb.)
	defer flushLogs()
	// Package initialisation of the libraries linked into the one binary
	// (the OpenAPI importer's JSON Schema tables, the Docker client) leaves
	// garbage that every process — each task's sidecar and app too — would
	// otherwise keep resident until a later GC and scavenge: hand it back now.
	debug.FreeOSMemory()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// A second signal while stopping means "now": children die with us
		// (they carry a parent-death signal).
		<-ctx.Done()
		stop()
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		<-again
		flushLogs()
		fmt.Fprintln(os.Stderr, "portway: second signal, exiting at once")
		os.Exit(130)
	}()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "portway:", err)
		os.Exit(1)
	}
}

// run is the testable main: it parses args and runs the command until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}
