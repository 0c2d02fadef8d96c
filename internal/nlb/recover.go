package nlb

import (
	"errors"
	"runtime/debug"
)

// A panic on one of the load balancer's goroutines — a flow's, its
// copier's, a watchdog's, a health checker's — ends only what that
// goroutine served (the flow is reset, a check fails), is logged once with
// its stack, and leaves the process serving: under `portway up` it also
// hosts the gateway, auth and every task's supervisor.

// errPanicked ends a flow whose copier panicked.
var errPanicked = errors.New("nlb: flow copier panicked")

// logPanic logs a recovered panic v with the stack of the goroutine that
// panicked; call it from the deferred function that recovered.
func (lb *LoadBalancer) logPanic(what string, v any, attrs ...any) {
	attrs = append(attrs, "panic", v, "stack", string(debug.Stack()))
	lb.log.Error("panic "+what+": recovered", attrs...)
}
