package trace

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// The environment variables `portway up` gives every task container: where
// to send hop records and the token to send with them.
const (
	EnvURL   = "PORTWAY_TRACE_URL"
	EnvToken = "PORTWAY_TRACE_TOKEN"
)

// Reporter bounds: hops queued (beyond, new ones are dropped and counted),
// hops per batch, and how long a hop waits for its batch.
const (
	reporterQueue = 2048
	reporterBatch = 512
	reporterEvery = 200 * time.Millisecond
	reportTimeout = 2 * time.Second
)

// Reporter sends a process's hops to portway's collector in batches, from
// a goroutine of its own: Record never blocks and never fails (it appends
// to a bounded buffer under a lock, and wakes the sender only when a batch
// is full, not for every hop); when the buffer is full or the collector is
// away, hops are dropped (counted in Dropped, logged once a minute at
// most). A nil Reporter records nothing.
type Reporter struct {
	url, token string
	task       string // $PORTWAY_TASK_ID: set on every hop
	log        *slog.Logger
	client     *http.Client
	dropped    atomic.Uint64
	buf        []byte // the batch being sent (the sender's goroutine only)

	mu      sync.Mutex
	pending []Hop         // at most reporterQueue
	kick    chan struct{} // a batch is full

	once sync.Once
	stop chan struct{}
	done chan struct{}
}

// ReporterFromEnv is the Reporter for $PORTWAY_TRACE_URL and
// $PORTWAY_TRACE_TOKEN, or nil when they are not set (tracing off).
func ReporterFromEnv(log *slog.Logger) *Reporter {
	url, token := os.Getenv(EnvURL), os.Getenv(EnvToken)
	if url == "" || token == "" {
		return nil
	}
	r := NewReporter(url, token, log)
	r.task = os.Getenv("PORTWAY_TASK_ID")
	return r
}

// NewReporter sends batches to url (the collector's ingest endpoint)
// with token; Start begins, Stop flushes what is queued.
func NewReporter(url, token string, log *slog.Logger) *Reporter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reporter{
		url: url, token: token, log: log,
		client: &http.Client{Timeout: reportTimeout, Transport: &http.Transport{Proxy: nil, MaxIdleConns: 1, IdleConnTimeout: time.Minute}},
		kick:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
}

// Record queues h for the next batch, or drops it when the queue is full.
func (r *Reporter) Record(h Hop) {
	if r == nil {
		return
	}
	if h.Task == "" {
		h.Task = r.task
	}
	r.mu.Lock()
	if len(r.pending) >= reporterQueue {
		r.mu.Unlock()
		r.dropped.Add(1)
		return
	}
	r.pending = append(r.pending, h)
	full := len(r.pending) == reporterBatch
	r.mu.Unlock()
	if full {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// Dropped is how many hops were not delivered.
func (r *Reporter) Dropped() uint64 {
	if r == nil {
		return 0
	}
	return r.dropped.Load()
}

// Start runs the sender.
func (r *Reporter) Start() {
	if r == nil {
		return
	}
	go r.run()
}

// Stop sends what is queued (bounded by ctx) and ends the sender.
func (r *Reporter) Stop(ctx context.Context) {
	if r == nil {
		return
	}
	r.once.Do(func() { close(r.stop) })
	select {
	case <-r.done:
	case <-ctx.Done():
	}
}

func (r *Reporter) run() {
	defer close(r.done)
	tick := time.NewTicker(reporterEvery)
	defer tick.Stop()
	var spare []Hop
	var lastLog time.Time
	var reported uint64
	flush := func() {
		r.mu.Lock()
		batch := r.pending
		r.pending = spare[:0]
		r.mu.Unlock()
		all := batch
		for len(batch) > 0 {
			n := min(len(batch), reporterBatch)
			if err := r.send(batch[:n]); err != nil {
				r.dropped.Add(uint64(n))
				if time.Since(lastLog) > time.Minute {
					lastLog = time.Now()
					r.log.Warn("trace: hops not delivered", "err", err, "dropped", r.dropped.Load())
				}
			}
			batch = batch[n:]
		}
		clear(all) // no strings kept alive
		spare = all[:0]
		if d := r.dropped.Load(); d != reported && time.Since(lastLog) > time.Minute {
			lastLog, reported = time.Now(), d
			r.log.Warn("trace: hops dropped", "dropped", d)
		}
	}
	for {
		select {
		case <-tick.C:
			flush()
		case <-r.kick:
			flush()
		case <-r.stop:
			flush()
			return
		}
	}
}

func (r *Reporter) send(hops []Hop) error {
	r.buf = r.buf[:0]
	for i := range hops {
		r.buf = appendWire(r.buf, &hops[i])
	}
	req, err := http.NewRequest(http.MethodPost, r.url, bytes.NewReader(r.buf))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Content-Type", wireContentType)
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return &statusError{resp.StatusCode}
	}
	return nil
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "collector answered " + http.StatusText(e.code) }

// wireContentType is the batch's media type (wire.go).
const wireContentType = "text/x-portway-hops; charset=utf-8"

// RootIn is the trace id of the first valid X-Amzn-Trace-Id among a
// request's header values, or "": what a sidecar or app records its hop
// under (the gateway passed it on).
func RootIn(values func(yield func([]byte) bool)) string {
	root := ""
	values(func(v []byte) bool {
		if ValidHeader(v) {
			root = RootOf(string(v[:len("Root=")+rootLen]))
			return false
		}
		return true
	})
	return root
}
