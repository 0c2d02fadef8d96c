package stack

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/portway/portway/internal/gateway"
)

func TestParseSubnet(t *testing.T) {
	for _, tc := range []struct {
		in, nlb, tasks, err string
	}{
		{in: "127.77.4.0/23", nlb: "127.77.4.10", tasks: "127.77.5.0/24"},
		{in: "127.77.0.0/23", nlb: "127.77.0.10", tasks: "127.77.1.0/24"},
		{in: "127.80.0.0/16", nlb: "127.80.0.10", tasks: "127.80.128.0/17"},
		{in: "127.77.4.0/27", nlb: "127.77.4.10", tasks: "127.77.4.16/28"},
		{in: "127.77.4.5/23", err: "127.77.4.5/23 is not a network address; did you mean 127.77.4.0/23?"},
		{in: "10.0.4.0/23", err: "10.0.4.0/23 is not a loopback network"},
		{in: "::1/128", err: "is not a loopback network"},
		{in: "127.77.4.0/28", err: "the prefix length must be /16 to /27"},
		{in: "127.0.0.0/8", err: "the prefix length must be /16 to /27"},
		{in: "127.77.4.0", err: `"127.77.4.0" is not a CIDR such as 127.77.4.0/23`},
	} {
		b, err := ParseSubnet(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSubnet(%q) = %v, %v; want error %q", tc.in, b, err, tc.err)
			}
			continue
		}
		if err != nil || b.NLBAddress.String() != tc.nlb || b.TaskSubnet.String() != tc.tasks {
			t.Errorf("ParseSubnet(%q) = %v, %v; want nlb %s tasks %s", tc.in, b, err, tc.nlb, tc.tasks)
		}
		if b.Subnet() != tc.in {
			t.Errorf("Block.Subnet() = %q, want %q", b.Subnet(), tc.in)
		}
	}
	if got := autoBlocks(); len(got) != 50 || got[0] != DefaultBlock() || got[49].Subnet() != "127.77.98.0/23" {
		t.Errorf("autoBlocks: %d blocks, first %v, last %v", len(got), got[0], got[len(got)-1])
	}
}

// TestWithBlock: the built-in stack moves its load balancer address, task
// subnet and the stage variable nlb_host together; a custom config's
// variables and literal URIs naming its address follow it; the original
// config is not changed.
func TestWithBlock(t *testing.T) {
	b, _ := ParseSubnet("127.77.4.0/23")
	def := Default()
	def.UnsetBlock()
	moved := def.WithBlock(b)
	if moved.NLB.Address != "127.77.4.10" || moved.Tasks.Subnet != "127.77.5.0/24" || moved.Gateway.StageVariables["nlb_host"] != "127.77.4.10" {
		t.Errorf("built-in moved: nlb %s tasks %s nlb_host %s", moved.NLB.Address, moved.Tasks.Subnet, moved.Gateway.StageVariables["nlb_host"])
	}
	if def.Gateway.StageVariables["nlb_host"] != DefaultNLBAddress {
		t.Errorf("WithBlock changed the original's stage variables")
	}
	if err := moved.Validate(); err != nil {
		t.Errorf("moved built-in: %v", err)
	}
	// A file without nlb.address gets nlb_host when it has none.
	bare := Default()
	bare.UnsetBlock()
	delete(bare.Gateway.StageVariables, "nlb_host")
	if err := bare.Validate(); err != nil {
		t.Errorf("a config without nlb.address and nlb_host: %v", err)
	}
	if got := bare.WithBlock(b).Gateway.StageVariables["nlb_host"]; got != "127.77.4.10" {
		t.Errorf("nlb_host of a config without one: %q", got)
	}

	cfg := testConfig()
	cfg.Gateway.StageVariables = map[string]string{"lb": "127.76.0.10", "other": "x"}
	cfg.Gateway.Resources[0].Methods[0].Integration.URI = "http://127.76.0.10:65534/bags"
	cfg.Gateway.Stages = []gateway.Stage{{Name: "beta", Variables: map[string]string{"lb": "127.76.0.10"}}}
	m := cfg.WithBlock(b)
	if m.Gateway.StageVariables["lb"] != "127.77.4.10" || m.Gateway.StageVariables["other"] != "x" {
		t.Errorf("stage variables: %v", m.Gateway.StageVariables)
	}
	if _, ok := m.Gateway.StageVariables["nlb_host"]; ok {
		t.Errorf("nlb_host added to a config that set nlb.address")
	}
	if got := m.Gateway.Resources[0].Methods[0].Integration.URI; got != "http://127.77.4.10:65534/bags" {
		t.Errorf("URI: %s", got)
	}
	if m.Gateway.Stages[0].Variables["lb"] != "127.77.4.10" {
		t.Errorf("stages[0].variables: %v", m.Gateway.Stages[0].Variables)
	}
	if cfg.Gateway.Resources[0].Methods[0].Integration.URI != "http://127.76.0.10:65534/bags" || cfg.Gateway.Stages[0].Variables["lb"] != "127.76.0.10" {
		t.Errorf("WithBlock changed the original config")
	}
}

func TestValidateBlockFields(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"only nlb.address", func(c *Config) { c.Tasks.Subnet = "" }, "tasks.subnet: must be set when nlb.address is"},
		{"only tasks.subnet", func(c *Config) { c.NLB.Address = "" }, "nlb.address: must be set when tasks.subnet is"},
		{"subnet holds the nlb", func(c *Config) { c.Tasks.Subnet = "127.76.0.0/16" }, "tasks.subnet: 127.76.0.0/16 holds nlb.address 127.76.0.10"},
		{"sidecar port", func(c *Config) {
			c.Services[0].Containers[0].Command = []string{"sidecar", "--listen", "${TASK_IP}:9000"}
			c.Services[0].ContainerPort = 9001
		}, "services[0].containerPort: 9001, but the built-in sidecar (services[0].containers[0]) listens on ${TASK_IP}:9000 (its --listen)"},
		{"nginx sidecar default port", func(c *Config) {
			c.Services[0].Containers[0].Command = []string{"sidecar"}
			c.Services[0].Containers[0].Engine = "nginx"
			c.Services[0].ContainerPort = 8000
		}, "services[0].containerPort: 8000, but the nginx sidecar (services[0].containers[0]) listens on ${TASK_IP}:9000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.edit(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
	auto := testConfig()
	auto.UnsetBlock()
	if err := auto.Validate(); err != nil {
		t.Errorf("a config without nlb.address and tasks.subnet: %v", err)
	}
	ok := testConfig()
	ok.Services[0].Containers[0].Command = []string{"sidecar", "--listen=${TASK_IP}:9000"}
	if err := ok.Validate(); err != nil {
		t.Errorf("a sidecar on the container port: %v", err)
	}
}

// blockTestStack is a Stack that claims blocks from blocks, with lock
// files in a directory of the test's.
func blockTestStack(dir string, blocks []Block, subnet string) *Stack {
	return &Stack{opts: Options{BlockLockDir: dir, blocks: blocks, Subnet: subnet}, log: slog.New(slog.DiscardHandler)}
}

// testBlocks are blocks of this package's own tests, 127.76.20.0/23 to
// 127.76.38.0/23 (startTestStackIn picks from 127.76.40.0/23 on).
func testBlocks(t *testing.T, n int) []Block {
	t.Helper()
	var out []Block
	for i := range n {
		b, err := ParseSubnet(netip.AddrFrom4([4]byte{127, 76, byte(20 + 2*i), 0}).String() + "/23")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestClaimBlock: a block whose listener port another program holds is
// skipped, as is one another stack holds; stacks claiming at the same
// moment get distinct blocks; an explicit address that is taken is an
// error naming the field and suggesting --subnet.
func TestClaimBlock(t *testing.T) {
	dir := t.TempDir()
	blocks := testBlocks(t, 4)
	auto := testConfig()
	auto.UnsetBlock()
	auto.Gateway.StageVariables["nlb_host"] = DefaultNLBAddress // as the built-in stack

	// Someone else's program on the first block's port 65534.
	ln, err := net.Listen("tcp", blocks[0].NLBAddress.String()+":65534")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	var wg sync.WaitGroup
	stacks := []*Stack{blockTestStack(dir, blocks, ""), blockTestStack(dir, blocks, "")}
	cfgs := make([]Config, 2)
	errs := make([]error, 2)
	for i, s := range stacks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfgs[i], errs[i] = s.claimBlock(auto)
		}()
	}
	wg.Wait()
	defer func() {
		for _, s := range stacks {
			s.blockLock.release()
		}
	}()
	for i := range stacks {
		if errs[i] != nil {
			t.Fatalf("stack %d: %v", i, errs[i])
		}
	}
	got := map[string]bool{cfgs[0].NLB.Address: true, cfgs[1].NLB.Address: true}
	if len(got) != 2 || got[blocks[0].NLBAddress.String()] || !got[blocks[1].NLBAddress.String()] || !got[blocks[2].NLBAddress.String()] {
		t.Errorf("picked %v, want the second and third blocks", got)
	}
	for i, c := range cfgs {
		if c.Gateway.StageVariables["nlb_host"] != c.NLB.Address || stacks[i].block.NLBAddress.String() != c.NLB.Address {
			t.Errorf("stack %d: nlb_host %s, nlb.address %s, block %v", i, c.Gateway.StageVariables["nlb_host"], c.NLB.Address, stacks[i].block)
		}
		// Which reason depends on who probed first; the block is named.
		if !strings.HasPrefix(stacks[i].blockNote, "picked: "+blocks[0].NLBAddress.String()+" is ") {
			t.Errorf("stack %d note: %q", i, stacks[i].blockNote)
		}
	}

	// Alone, the reason is the port.
	alone := blockTestStack(dir, blocks[:1:1], "")
	if _, err := alone.claimBlock(auto); err == nil || !strings.Contains(err.Error(), "no free private block among 1") {
		t.Errorf("one taken block: %v", err)
	}
	alone = blockTestStack(dir, []Block{blocks[0], blocks[3]}, "")
	if _, err := alone.claimBlock(auto); err != nil || alone.blockNote != "picked: "+blocks[0].NLBAddress.String()+" is taken: port 65534: address already in use" {
		t.Errorf("note: %q, %v", alone.blockNote, err)
	}
	alone.blockLock.release()

	// An explicit address another stack holds.
	explicit := testConfig().WithBlock(blocks[1])
	_, err = blockTestStack(dir, blocks, "").claimBlock(explicit)
	want := "nlb.address " + blocks[1].NLBAddress.String() + " (with tasks.subnet " + blocks[1].TaskSubnet.String() + ") is in use by another `portway up`"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--subnet") {
		t.Errorf("explicit taken: %v, want %q and a --subnet hint", err, want)
	}
	// An explicit address whose port another program holds.
	_, err = blockTestStack(dir, blocks, "").claimBlock(testConfig().WithBlock(blocks[0]))
	if err == nil || !strings.Contains(err.Error(), "nlb.address "+blocks[0].NLBAddress.String()) || !strings.Contains(err.Error(), "port 65534: address already in use") {
		t.Errorf("explicit port taken: %v", err)
	}
	// --subnet: a free block wins over the config's addresses; a held one
	// is an error naming the flag.
	s := blockTestStack(dir, blocks, blocks[3].Subnet())
	c, err := s.claimBlock(explicit)
	if err != nil || c.NLB.Address != blocks[3].NLBAddress.String() || c.Tasks.Subnet != blocks[3].TaskSubnet.String() {
		t.Errorf("--subnet: %v, %s %s", err, c.NLB.Address, c.Tasks.Subnet)
	}
	s.blockLock.release()
	_, err = blockTestStack(dir, blocks, blocks[2].Subnet()).claimBlock(explicit)
	if err == nil || !strings.HasPrefix(err.Error(), "--subnet "+blocks[2].Subnet()) {
		t.Errorf("--subnet held: %v", err)
	}
	// No free block at all.
	_, err = blockTestStack(dir, blocks[:3], "").claimBlock(auto)
	if err == nil || !strings.Contains(err.Error(), "no free private block among 3") {
		t.Errorf("all taken: %v", err)
	}
	if !errors.Is(func() error { _, err := lockBlock(dir, blocks[1]); return err }(), errBlockLocked) {
		t.Errorf("a held block's lock was taken again")
	}
}

// TestLockDirUnusable: a lock directory that cannot hold lock files
// (another user's, or here a file in its place) does not stop a stack;
// the ports still decide.
func TestLockDirUnusable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "locks")
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	b := testBlocks(t, 12)[11]
	l, err := lockBlock(dir, b)
	if err != nil || l.unlocked == nil {
		t.Fatalf("lockBlock = %+v, %v; want a lock that says why it holds nothing", l, err)
	}
	l.release()
}
