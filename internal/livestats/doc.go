// Package livestats keeps the last minute of request statistics — rate,
// p50/p99 latency, error rate — per route, per target and per client, for
// the console. Prometheus histograms are cumulative since the process
// started; an operator looking at a page wants "now".
//
// A Series is 60 one-second slots, each a request count, 4xx and 5xx
// counts and a fixed latency histogram (LatencyBounds, 100 µs to 30 s in
// about 15% steps above 1 ms), so p50/p99 are read to within one bucket.
// Recording takes the series' mutex, indexes a slot by the second and a
// bucket by a binary search: no allocation, tens of nanoseconds
// (BenchmarkRecord). A slot whose second has passed out of the window is
// cleared when it is reused, so an idle series costs nothing.
//
// A Board maps keys (a route, a task, a client and outcome) to series,
// bounded: past its capacity new keys share one overflow series, so a
// stream of made-up client ids cannot grow memory. Prune drops series idle
// for a whole window.
package livestats
