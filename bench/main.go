// Command bench measures portway's full request path side by side with the
// same path built from nginx and HAProxy, in front of the same app program,
// and prints a table (or -json).
//
//	go run ./bench [-duration 10s] [-connections 32] [-threads 1] [-rounds 3]
//	               [-scenarios get,post1m,newconn,c64,kill] [-quick] [-tls]
//	               [-json] [-json-file FILE] [-keep] [-v]
//
// It needs root (or the packages already installed) for apt-get, and
// Linux (it reads /proc and binds 127.78.0.0/16 loopback addresses).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Chain names.
const (
	chainPortway = "portway"
	chainNginx   = "nginx"
	chainDirect  = "direct"
	// the load balancers alone (LBOnly scenarios)
	chainPortwayNLB = "portway-nlb"
	chainHAProxy    = "haproxy"
)

// options are the command-line flags.
type options struct {
	Duration    time.Duration
	Warmup      time.Duration
	Connections int
	Threads     int
	Rounds      int
	Scenarios   []string
	Quick       bool
	// TLS serves both gateways over HTTPS (portway up --tls, nginx with
	// ssl); everything behind them stays plain HTTP.
	TLS        bool
	JSON       bool
	JSONFile   string
	Keep       bool
	KillWindow time.Duration
	Verbose    bool
}

// Validate checks the options; errors name the flag.
func (o options) Validate() error {
	var errs []error
	// wrk's -d takes whole seconds.
	if o.Duration < time.Second || o.Duration%time.Second != 0 {
		errs = append(errs, errors.New("-duration: must be a whole number of seconds, >= 1s"))
	}
	if o.Warmup < 0 || o.Warmup%time.Second != 0 {
		errs = append(errs, errors.New("-warmup: must be a whole number of seconds (0 for none)"))
	}
	if o.Threads < 1 {
		errs = append(errs, errors.New("-threads: must be >= 1"))
	}
	if o.Connections < o.Threads {
		errs = append(errs, errors.New("-connections: must be >= -threads"))
	}
	if o.Rounds < 1 {
		errs = append(errs, errors.New("-rounds: must be >= 1"))
	}
	if o.KillWindow < 2*time.Second {
		errs = append(errs, errors.New("-kill-window: must be >= 2s"))
	}
	known := map[string]bool{killScenario: true}
	for _, s := range scenarios() {
		known[s.Name] = true
	}
	if len(o.Scenarios) == 0 {
		errs = append(errs, errors.New("-scenarios: empty"))
	}
	for _, s := range o.Scenarios {
		if !known[s] {
			errs = append(errs, fmt.Errorf("-scenarios: unknown scenario %q (known: %s)", s, strings.Join(scenarioNames(), ",")))
		}
	}
	return errors.Join(errs...)
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var sc string
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "length of each wrk run")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "unrecorded wrk run per chain before each scenario's rounds (whole seconds, 0 for none)")
	fs.IntVar(&o.Connections, "connections", 32, "wrk connections (the c64 scenario uses 64)")
	fs.IntVar(&o.Threads, "threads", 1, "wrk threads")
	fs.IntVar(&o.Rounds, "rounds", 3, "rounds; each round runs every chain once, interleaved")
	fs.StringVar(&sc, "scenarios", strings.Join(scenarioNames(), ","), "comma-separated scenarios to run")
	fs.BoolVar(&o.Quick, "quick", false, "smoke run: 1s runs, no warm-up, 1 round, 6s kill window")
	fs.BoolVar(&o.TLS, "tls", false, "HTTPS at both gateways (portway up --tls; nginx listen ssl), certificates from portway's local CA; NLB, sidecars, apps and the direct chain stay plain HTTP")
	fs.BoolVar(&o.JSON, "json", false, "print the report as JSON instead of a table")
	fs.StringVar(&o.JSONFile, "json-file", "", "also write the JSON report to this file")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temp dir (configs and logs) at the end")
	fs.DurationVar(&o.KillWindow, "kill-window", 10*time.Second, "how long to watch after killing a target")
	fs.BoolVar(&o.Verbose, "v", false, "log progress to stderr")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.Quick {
		if !set["duration"] {
			o.Duration = time.Second
		}
		if !set["warmup"] {
			o.Warmup = 0
		}
		if !set["rounds"] {
			o.Rounds = 1
		}
		if !set["kill-window"] {
			o.KillWindow = 6 * time.Second
		}
	}
	for _, s := range strings.Split(sc, ",") {
		if s = strings.TrimSpace(s); s != "" {
			o.Scenarios = append(o.Scenarios, s)
		}
	}
	return o, o.Validate()
}

func main() {
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	level := slog.LevelWarn
	if opts.Verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := run(ctx, opts, os.Stdout, log); err != nil {
		if ctx.Err() != nil {
			err = errors.New("interrupted; every process it started is stopped")
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// run does the whole measurement. Every process it starts is stopped before
// it returns, also when ctx is cancelled (Ctrl-C) or something fails.
func run(ctx context.Context, opts options, stdout io.Writer, log *slog.Logger) (err error) {
	dir, err := os.MkdirTemp("", "portway-bench-")
	if err != nil {
		return err
	}
	ps := &procSet{dir: dir, log: log}
	defer func() {
		if serr := ps.stopAll(); serr != nil {
			err = errors.Join(err, fmt.Errorf("stop: %w", serr))
		}
		if err != nil || opts.Keep {
			fmt.Fprintf(os.Stderr, "bench: configs and logs kept in %s\n", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()

	t, err := ensureTools(ctx, os.Stderr)
	if err != nil {
		return err
	}
	rep := Report{Machine: machineInfo(ctx, t)}
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	log.Info("building portway")
	bin, err := buildPortway(ctx, root, dir)
	if err != nil {
		return err
	}

	stateDir := filepath.Join(dir, "portway-state")
	var bt *benchTLS
	if opts.TLS {
		log.Info("making the local CA and the nginx gateway's certificate")
		if bt, err = setupTLS(stateDir, dir); err != nil {
			return err
		}
	}

	log.Info("starting portway up", "tls", opts.TLS)
	pw, err := startPortway(ctx, ps, bin, dir, stateDir, bt)
	if err != nil {
		return err
	}
	rep.Portway.ReadyMS = ms(pw.ready)
	rep.Portway.Description = "portway up and all its tasks: the default stack, bags and ingests, 2 tasks each"

	log.Info("starting nginx → HAProxy → nginx")
	ots, err := startOffTheShelf(ctx, ps, t, bin, dir, bt)
	if err != nil {
		return err
	}
	rep.Chain.Description = "nginx gateway, HAProxy, 2 nginx sidecars and their 2 ingests apps"

	if rep.Portway.RSSIdleMB, err = rssMB(pw.up.PID()); err != nil {
		return err
	}
	if rep.Chain.RSSIdleMB, err = rssMB(ots.roots()...); err != nil {
		return err
	}
	if rep.Portway.PSSIdleMB, err = pssMB(pw.up.PID()); err != nil {
		return err
	}
	if rep.Chain.PSSIdleMB, err = pssMB(ots.roots()...); err != nil {
		return err
	}

	chains, err := prepareChains(ctx, pw, ots, log)
	if err != nil {
		return err
	}
	if err := checkSchemes(chains, opts.TLS); err != nil {
		return err
	}
	lbs, err := lbChains(pw, ots, chains)
	if err != nil {
		return err
	}
	m := &measurer{opts: opts, wrk: t.wrk, dir: dir, log: log, chains: chains, lbChains: lbs,
		stackRoots: map[string][]int{chainPortway: {pw.up.PID()}, chainNginx: ots.roots(), chainDirect: chains[2].Roots}}
	rep.Settings = Settings{
		Duration: opts.Duration.String(), Warmup: opts.Warmup.String(), Threads: opts.Threads,
		Connections: opts.Connections, Rounds: opts.Rounds, BodyBytes: postBodyBytes, TLS: opts.TLS,
	}
	for _, c := range chains {
		rep.Settings.Order = append(rep.Settings.Order, c.Name)
	}
	for _, name := range opts.Scenarios {
		if name == killScenario {
			continue
		}
		sc, _ := scenarioByName(name)
		res, err := m.scenario(ctx, sc)
		if err != nil {
			return fmt.Errorf("scenario %s: %w", name, err)
		}
		rep.Scenarios = append(rep.Scenarios, res)
	}
	rep.Portway.RSSMaxMB = max(m.maxRSS[chainPortway], rep.Portway.RSSIdleMB)
	rep.Chain.RSSMaxMB = max(m.maxRSS[chainNginx], rep.Chain.RSSIdleMB)
	rep.Machine.OtherCPUCores = m.otherCores()
	for _, c := range chains {
		for _, sc := range rep.Scenarios {
			for _, cr := range sc.Chains {
				if cr.Chain == c.Name && cr.Errors > 0 {
					rep.Notes = append(rep.Notes, fmt.Sprintf("%s: %s had %d failed requests (socket errors or non-2xx/3xx); its figures are not comparable", sc.Name, c.Name, cr.Errors))
				}
			}
		}
	}

	// Last: killing a target changes the stacks.
	if contains(opts.Scenarios, killScenario) {
		k, err := killPortwayTarget(ctx, bin, pw, chains[0], opts.KillWindow)
		if err != nil {
			return fmt.Errorf("kill scenario (portway): %w", err)
		}
		rep.Kill = append(rep.Kill, k)
		k, err = killChainTarget(ctx, ots, chains[1], opts.KillWindow)
		if err != nil {
			return fmt.Errorf("kill scenario (nginx chain): %w", err)
		}
		rep.Kill = append(rep.Kill, k)
	}
	rep.Machine.LoadAfter = loadavg()

	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if opts.JSONFile != "" {
		if err := os.WriteFile(opts.JSONFile, data, 0o644); err != nil {
			return err
		}
	}
	if opts.JSON {
		_, err := stdout.Write(data)
		return err
	}
	return writeTable(stdout, rep)
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func pssMB(roots ...int) (float64, error) {
	b, err := pssOf("/proc", roots...)
	return float64(b) / (1 << 20), err
}

func rssMB(roots ...int) (float64, error) {
	b, err := rssOf("/proc", roots...)
	return float64(b) / (1 << 20), err
}
