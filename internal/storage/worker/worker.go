// Package worker is the ingests app's background worker: it claims
// accepted ingests from the shared store under a lease, unpacks and
// verifies their bags, assigns versions, copies the bags to storage,
// registers their manifests and notifies callback URLs.
//
// Leases: a worker holds a row-level lease (owner, expiry) on each ingest
// it works on and renews it while working. Every write it makes checks the
// lease in the same transaction, so once a lease has expired and another
// worker has claimed the ingest, the first worker's writes fail and it
// gives up: two workers never complete one ingest. A worker that dies
// simply stops renewing; another claims the ingest after the expiry and
// redoes the work from the start (keeping a version already assigned).
package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/portway/portway/internal/egress"
	"github.com/portway/portway/internal/storage/bagit"
	"github.com/portway/portway/internal/storage/model"
	"github.com/portway/portway/internal/storage/store"
)

// Store is what the worker needs from the store; *store.Store has it.
type Store interface {
	ClaimIngest(ctx context.Context, owner string, now time.Time, ttl time.Duration) (model.Ingest, bool, error)
	RenewLease(ctx context.Context, id uuid.UUID, owner string, now time.Time, ttl time.Duration) error
	ReleaseLease(ctx context.Context, id uuid.UUID, owner string) error
	UpdateLeasedIngest(ctx context.Context, id uuid.UUID, owner string, fn func(*model.Ingest) error) (model.Ingest, error)
	AssignVersion(ctx context.Context, id uuid.UUID, owner string, now time.Time) (model.BagVersion, error)
	RegisterBag(ctx context.Context, owner string, m model.StorageManifest, fn func(*model.Ingest) error) (model.Ingest, error)
	LeaseHolder(ctx context.Context, id uuid.UUID, now time.Time) (string, error)
}

var _ Store = (*store.Store)(nil)

// Defaults for zero Config fields.
const (
	DefaultConcurrency     = 2
	DefaultPollInterval    = time.Second
	DefaultLeaseDuration   = time.Minute
	DefaultCallbackTimeout = 10 * time.Second
	DefaultCallbackTries   = 5
	DefaultCallbackBackoff = time.Second
	maxCallbackBackoff     = 30 * time.Second
)

// StorageBucket is the bucket name stored bags' locations show: the
// storage directory plays the storage bucket.
const StorageBucket = "storage"

// Config configures a Worker.
type Config struct {
	Store Store
	// BucketsDir holds the source buckets: <BucketsDir>/{bucket}/{path}.
	BucketsDir string
	// StorageDir receives stored bags: <StorageDir>/{space}/{id}/v{N}/.
	StorageDir string
	// WorkDir is scratch space for unpacking. Default <StorageDir>.work.
	WorkDir string
	// Owner names this worker in leases. Default "worker-<random>".
	Owner string
	// Concurrency is how many ingests it works on at once. Default 2.
	Concurrency int
	// PollInterval is how often an idle worker looks for work. Default 1s.
	PollInterval time.Duration
	// LeaseDuration is how long a lease lasts unless renewed (it is renewed
	// every third of it). Default 1m.
	LeaseDuration time.Duration
	// Limits bound an unpacked bag. Default bagit.DefaultLimits.
	Limits bagit.Limits
	// Callback delivery. Callbacks is the address policy of callback
	// URLs, checked by the dialer on the address each connection goes to
	// (see package egress): the zero value allows public addresses only.
	// Redirects are not followed, proxies from the environment not used.
	Callbacks       egress.Config
	CallbackTimeout time.Duration // per attempt; default 10s
	CallbackTries   int           // default 5
	CallbackBackoff time.Duration // first wait between tries, doubling up to 30s; default 1s

	Logger *slog.Logger
	Now    func() time.Time
}

// Validate reports every invalid field, each error naming its field.
func (c Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("store: must not be nil"))
	}
	if c.BucketsDir == "" {
		errs = append(errs, errors.New("bucketsDir: must not be empty"))
	}
	if c.StorageDir == "" {
		errs = append(errs, errors.New("storageDir: must not be empty"))
	}
	for name, d := range map[string]time.Duration{"pollInterval": c.PollInterval, "leaseDuration": c.LeaseDuration,
		"callbackTimeout": c.CallbackTimeout, "callbackBackoff": c.CallbackBackoff} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative, got %s", name, d))
		}
	}
	if c.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("concurrency: must not be negative, got %d", c.Concurrency))
	}
	if c.CallbackTries < 0 {
		errs = append(errs, fmt.Errorf("callbackTries: must not be negative, got %d", c.CallbackTries))
	}
	if err := c.Callbacks.Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			errs = append(errs, errors.New("callbacks."+line))
		}
	}
	return errors.Join(errs...)
}

// Worker processes ingests in the background between Start and Stop.
type Worker struct {
	cfg    Config
	log    *slog.Logger
	wake   chan struct{}
	client *http.Client // callbacks

	mu      sync.Mutex
	cancel  context.CancelFunc
	running sync.WaitGroup

	// stepHook, if set, runs before each step (tests).
	stepHook func(ctx context.Context, id uuid.UUID, step string)
}

// New validates cfg and fills in defaults.
func New(cfg Config) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("worker: invalid config: %w", err)
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = cfg.StorageDir + ".work"
	}
	if cfg.Owner == "" {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		cfg.Owner = "worker-" + hex.EncodeToString(b)
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.LeaseDuration == 0 {
		cfg.LeaseDuration = DefaultLeaseDuration
	}
	if cfg.CallbackTimeout == 0 {
		cfg.CallbackTimeout = DefaultCallbackTimeout
	}
	if cfg.CallbackTries == 0 {
		cfg.CallbackTries = DefaultCallbackTries
	}
	if cfg.CallbackBackoff == 0 {
		cfg.CallbackBackoff = DefaultCallbackBackoff
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	policy, err := egress.New(cfg.Callbacks)
	if err != nil {
		return nil, fmt.Errorf("worker: invalid config: %w", err) // Validate has seen it
	}
	client := &http.Client{
		Transport:     policy.Transport(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Worker{cfg: cfg, log: cfg.Logger.With("worker", cfg.Owner), wake: make(chan struct{}, 1), client: client}, nil
}

// Owner is the name this worker's leases carry.
func (w *Worker) Owner() string { return w.cfg.Owner }

// Start creates the work directories and starts the worker's loops.
func (w *Worker) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cancel != nil {
		return errors.New("worker: Start called twice")
	}
	for _, d := range []string{w.cfg.StorageDir, w.cfg.WorkDir} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return fmt.Errorf("worker: %w", err)
		}
	}
	w.sweepScratch(ctx)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w.cancel = cancel
	for range w.cfg.Concurrency {
		w.running.Go(func() { w.loop(runCtx) })
	}
	w.log.Info("ingest worker started", "concurrency", w.cfg.Concurrency)
	return nil
}

// Stop cancels the work in progress (its leases are released so that
// another worker can resume it at once) and waits for the loops to end,
// bounded by ctx.
func (w *Worker) Stop(ctx context.Context) error {
	w.mu.Lock()
	cancel := w.cancel
	w.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	done := make(chan struct{})
	go func() { w.running.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("worker: stop: %w", ctx.Err())
	}
}

// Wake makes an idle worker look for work now rather than at its next poll.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *Worker) loop(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-t.C:
		}
		for ctx.Err() == nil {
			in, ok, err := w.cfg.Store.ClaimIngest(ctx, w.cfg.Owner, w.cfg.Now(), w.cfg.LeaseDuration)
			if err != nil {
				if ctx.Err() == nil {
					w.log.Error("claim ingest", "err", err)
				}
				break
			}
			if !ok {
				break
			}
			w.process(ctx, in)
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(w.cfg.PollInterval)
	}
}

// process works on one claimed ingest while renewing its lease.
func (w *Worker) process(ctx context.Context, in model.Ingest) {
	log := w.log.With("ingest_id", in.ID.String())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	id := in.ID
	renewDone := make(chan struct{})
	go func() {
		defer close(renewDone)
		w.renew(ctx, cancel, id, log)
	}()
	defer func() {
		cancel()
		<-renewDone
		rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer rcancel()
		if err := w.cfg.Store.ReleaseLease(rctx, id, w.cfg.Owner); err != nil {
			log.Warn("release lease", "err", err)
		}
	}()

	log.Info("ingest claimed", "status", string(in.Status))
	if in.Status == model.IngestProcessing {
		w.sweepIngestScratch(ctx, id)
	}
	var err error
	if in.Status == model.IngestAccepted || in.Status == model.IngestProcessing {
		if in.Status == model.IngestProcessing {
			log.Info("resuming ingest whose lease expired")
		}
		in, err = w.ingest(ctx, in, log)
	}
	if err == nil && in.Callback != nil &&
		(in.Callback.Status == model.CallbackPending || in.Callback.Status == model.CallbackProcessing) {
		err = w.callback(ctx, in, log)
	}
	switch {
	case err == nil:
	case errors.Is(err, store.ErrLeaseLost):
		log.Warn("lease lost; another worker has the ingest")
	case ctx.Err() != nil:
		log.Info("ingest interrupted", "err", err)
	default:
		log.Error("ingest", "err", err)
	}
}

// renew extends the lease every third of its duration; losing it cancels
// the work.
func (w *Worker) renew(ctx context.Context, cancel context.CancelFunc, id uuid.UUID, log *slog.Logger) {
	t := time.NewTicker(w.cfg.LeaseDuration / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := w.cfg.Store.RenewLease(ctx, id, w.cfg.Owner, w.cfg.Now(), w.cfg.LeaseDuration)
		if errors.Is(err, store.ErrLeaseLost) {
			log.Warn("lease lost while working; stopping")
			cancel()
			return
		}
		if err != nil && ctx.Err() == nil {
			log.Warn("renew lease", "err", err)
		}
	}
}
