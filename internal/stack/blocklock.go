package stack

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// BlockLockDir is the machine-wide directory of the private blocks' lock
// files, shared by every user's stacks (mode 1777, as /tmp).
func BlockLockDir() string { return filepath.Join(os.TempDir(), "portway-blocks") }

// errBlockLocked: another `portway up` holds the block.
var errBlockLocked = errors.New("held by another portway up")

// blockLock is a running stack's hold on its block: an flock on one file
// for the load balancer address and one for the task subnet, kept while
// the stack runs, so that two stacks started at the same moment never
// pick the same block.
type blockLock struct {
	files []*os.File
	// unlocked says why a lock file could not be used (the directory
	// belongs to someone else, …): the block is then checked by its ports
	// only.
	unlocked error
}

// lockBlock takes b's locks in dir without waiting: errBlockLocked when
// another stack holds either.
func lockBlock(dir string, b Block) (*blockLock, error) {
	if err := os.Mkdir(dir, 0o1777); err == nil {
		_ = os.Chmod(dir, 0o1777) // past the umask: every user's stacks share it
	}
	l := &blockLock{}
	for _, name := range []string{"nlb-" + b.NLBAddress.String(), "tasks-" + strings.ReplaceAll(b.TaskSubnet.Masked().String(), "/", "_")} {
		f, err := openLockFile(filepath.Join(dir, name+".lock"))
		if err != nil {
			l.unlocked = err
			continue
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			l.release()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, errBlockLocked
			}
			return nil, fmt.Errorf("block locks: %s: %w", f.Name(), err)
		}
		l.files = append(l.files, f)
	}
	return l, nil
}

// openLockFile opens (making it) a lock file, never through a symlink; a
// file another user made is opened read-only, which flock accepts.
func openLockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o644)
	if errors.Is(err, os.ErrPermission) {
		f, err = os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	}
	return f, err
}

func (l *blockLock) release() {
	if l == nil {
		return
	}
	for _, f := range l.files {
		f.Close()
	}
	l.files = nil
}

// probeListeners binds each of the load balancer's listener ports at addr
// for a moment: the first that cannot be bound is returned with the error
// (another program, or a stack that takes no locks, holds it).
func probeListeners(addr netip.Addr, ports []int) (int, error) {
	for _, p := range ports {
		ln, err := net.Listen("tcp", net.JoinHostPort(addr.String(), strconv.Itoa(p)))
		if err != nil {
			return p, err
		}
		ln.Close()
	}
	return 0, nil
}

// claimBlock locks b and checks that its load balancer ports are free.
// The error says why not; errBlockLocked is wrapped when another stack
// holds the lock.
func (c Config) claimBlock(dir string, b Block) (*blockLock, error) {
	l, err := lockBlock(dir, b)
	if err != nil {
		return nil, err
	}
	ports := make([]int, 0, len(c.NLB.Listeners))
	for _, ln := range c.NLB.Listeners {
		ports = append(ports, ln.Port)
	}
	if p, err := probeListeners(b.NLBAddress, ports); err != nil {
		l.release()
		return nil, fmt.Errorf("port %d: %w", p, unwrapSyscall(err))
	}
	return l, nil
}

// unwrapSyscall shortens "listen tcp 127.77.0.10:65534: bind: address
// already in use" to "address already in use".
func unwrapSyscall(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// claimBlock settles the stack's private block and holds it: --subnet
// (Options.Subnet) whatever the config says; else the addresses the config
// sets, which must be free; else the default block, or the next free one.
// It returns the config moved to the block.
func (s *Stack) claimBlock(cfg Config) (Config, error) {
	dir := s.opts.BlockLockDir
	if dir == "" {
		dir = BlockLockDir()
	}
	taken := func(err error) string {
		if errors.Is(err, errBlockLocked) {
			return "is in use by another `portway up`"
		}
		return "is taken: " + err.Error()
	}
	var b Block
	switch {
	case s.opts.Subnet != "":
		var err error
		if b, err = ParseSubnet(s.opts.Subnet); err != nil {
			return cfg, fmt.Errorf("--subnet: %w", err)
		}
		if s.blockLock, err = cfg.claimBlock(dir, b); err != nil {
			return cfg, fmt.Errorf("--subnet %s (%s) %s; choose another block", s.opts.Subnet, b, taken(err))
		}
		s.blockNote = "--subnet " + s.opts.Subnet
	case !cfg.autoBlock():
		var err error
		if b, err = cfg.configBlock(); err != nil {
			return cfg, err
		}
		if s.blockLock, err = cfg.claimBlock(dir, b); err != nil {
			return cfg, fmt.Errorf("nlb.address %s (with tasks.subnet %s) %s; set free addresses in nlb.address and tasks.subnet, "+
				"leave both out of the config so that portway picks a free block, or pass --subnet (such as --subnet 127.77.4.0/23)",
				b.NLBAddress, b.TaskSubnet, taken(err))
		}
	default:
		blocks := s.opts.blocks
		if blocks == nil {
			blocks = autoBlocks()
		}
		var skipped []string
		for _, cand := range blocks {
			l, err := cfg.WithBlock(cand).claimBlock(dir, cand)
			if err != nil {
				skipped = append(skipped, fmt.Sprintf("%s %s", cand.NLBAddress, taken(err)))
				continue
			}
			b, s.blockLock = cand, l
			break
		}
		if s.blockLock == nil {
			return cfg, fmt.Errorf("no free private block among %d (%s … %s): pass --subnet with a free loopback block, such as --subnet 127.77.200.0/23",
				len(blocks), blocks[0].Subnet(), blocks[len(blocks)-1].Subnet())
		}
		if len(skipped) > 0 {
			s.blockNote = "picked: " + strings.Join(skipped, "; ")
		}
	}
	s.block = b
	s.log.Info("private block", "nlb", b.NLBAddress, "tasks", b.TaskSubnet, "note", s.blockNote)
	if err := s.blockLock.unlocked; err != nil {
		s.log.Warn("the block's lock file cannot be used; a stack starting at this very moment could pick the same block", "err", err)
	}
	if s.opts.Subnet != "" || cfg.autoBlock() {
		cfg = cfg.WithBlock(b)
	}
	return cfg, nil
}

// keepOnFailure names what a failed start leaves in the state dir: the
// logs of the tasks it ran.
func (s *Stack) keepOnFailure(rel string) bool {
	return s.tasksRan && (rel == "tasks" || strings.HasPrefix(rel, "tasks/"))
}
