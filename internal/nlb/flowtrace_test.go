package nlb

import (
	"bufio"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/portway/portway/internal/testutil"
	"github.com/portway/portway/internal/trace"
)

func addrOf(a net.Addr) netip.AddrPort { return tcpAddrPort(a) }

// Each flow is in the flow log under the addresses of the connection its
// client holds, with its listener, group, target and connect time, and
// its bytes once closed: listener flows and in-process ones alike.
func TestFlowsAreLogged(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"})
	cfg := testConfig(t, hcPort)
	cfg.Flows = trace.NewFlowLog(0, nil)
	lb := startLB(t, cfg)
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)

	for _, inProcess := range []bool{false, true} {
		var c net.Conn
		if inProcess {
			c = dialLink(t, lb)
		} else {
			c = dialLB(t, lb)
		}
		if _, err := ask(c, bufio.NewReader(c)); err != nil {
			t.Fatal(err)
		}
		client, server := addrOf(c.LocalAddr()), addrOf(c.RemoteAddr())
		now := time.Now().UnixMicro()
		f, ok := cfg.Flows.Find(client, server, now)
		if !ok {
			t.Fatalf("inProcess=%v: no flow for %v → %v", inProcess, client, server)
		}
		if f.Target != tts[0].ip+":"+strconv.Itoa(tts[0].port) || f.TargetGroup != cfg.TargetGroups[0].Name || f.InProcess != inProcess ||
			f.Listener != lb.ListenerAddrs()[0] || f.Connect <= 0 || f.Opened > now || f.Closed != 0 {
			t.Errorf("inProcess=%v: flow %+v", inProcess, f)
		}
		c.Close()
		testutil.WaitFor(t, 5*time.Second, "the flow closed in the log", func() bool {
			f, ok := cfg.Flows.Find(client, server, now)
			return ok && f.Closed != 0
		})
		f, _ = cfg.Flows.Find(client, server, now)
		if f.Bytes <= 0 {
			t.Errorf("inProcess=%v: bytes %d", inProcess, f.Bytes)
		}
	}
}
