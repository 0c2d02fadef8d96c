// Package console is the operator's page of a running stack, served at /
// on the control listener behind its guard (internal/controlauth): one
// page, live, that draws the request path hop by hop — clients → gateway
// routes → load balancer listeners → target groups → tasks — with each
// route's, target's and client's last minute (internal/livestats), target
// health with its reason and last check, deployments with their state and
// the reasons of failed tasks, recent requests with their traces, and a
// task's log tail.
//
// The page is static HTML, CSS and JavaScript embedded in the binary (ui/,
// no build step, nothing from the internet). Its script polls read-only
// JSON endpoints every two seconds:
//
//	GET /console/api/state            everything the page draws
//	GET /console/api/logs?task=&container=  the last MaxLogBytes of a task's container log
//
// and the control API's own GET /traces/ID for a trace. Every response
// carries a Content-Security-Policy of default-src 'self' without inline
// scripts or styles, and the script writes data into the DOM only as text
// (textContent), never as markup.
package console
