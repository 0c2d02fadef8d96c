// Package trace follows one request over every hop of the stack — the
// gateway, the load balancer's flow, the sidecar, the app — by its X-Ray
// trace id (X-Amzn-Trace-Id), each hop with its own clock readings in
// microseconds.
//
//   - The gateway keeps a caller's valid trace header (ValidHeader: strict,
//     bounded) or makes one (NewHeader), passes it to the integration and
//     records its hop in the Store, in process.
//   - The load balancer works at L4 and cannot read the header. It logs its
//     flows (FlowLog: the open ones and the last closed ones) by the
//     addresses of the connection its client holds; the gateway records
//     the local and remote address of the upstream connection that carried
//     the request, and the Store joins the two when a trace is read. No two
//     open TCP connections share both addresses, so the join is exact, not
//     guessed by time; it costs the load balancer nothing per request.
//   - Sidecars and apps are other processes (the tasks' containers). They
//     read the header the gateway passed on and send their hops to a
//     Collector, a loopback listener of portway's own named to tasks in
//     $PORTWAY_TRACE_URL with a per-stack token in $PORTWAY_TRACE_TOKEN
//     (not the control API's token: a task may add sidecar and app hops,
//     nothing else). A Reporter queues hops in a bounded buffer (2,048) and
//     posts them in batches from a goroutine of its own, woken per batch,
//     not per hop: a request never waits for reporting; a full buffer or an
//     absent collector drops hops (and counts them). The batches are lines of tab-separated fields
//     (wire.go), cheaper to write and read than JSON, one loopback request
//     per 200 ms or 512 hops. Reading the tasks' log files instead would tie
//     the trace to the log format and parse every line of it.
//
// The Store keeps the last DefaultTraces (10,000) traces, at most
// MaxHopsPerTrace (8) hops each, in a ring: about 20 MiB with the usual
// three recorded hops a request (measured). The control API serves them as
// JSON (QueryHandler), for `portway trace` and the console.
package trace
