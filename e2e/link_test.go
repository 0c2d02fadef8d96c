package e2e

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/portway/portway/internal/stack"
)

// TestGatewayLink: by default the gateway reaches the load balancer's
// targets in process, and no connection is accepted on the listener; with
// nlb.gatewayLink: tcp the same requests go through the listener's socket.
func TestGatewayLink(t *testing.T) {
	for i, link := range []string{stack.LinkInProcess, stack.LinkTCP} {
		t.Run(link, func(t *testing.T) {
			cfg := testStack(61 + i)
			cfg.NLB.GatewayLink = link
			stateDir := t.TempDir()
			startUp(t, stateDir, "--config", writeConfig(t, cfg))

			client, ep := stackClient(t, stateDir)
			resp, err := client.Post(ep.APIURL+"/ingests", "application/json", strings.NewReader(ingestBody))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("POST: %d %s", resp.StatusCode, body)
			}
			resp, err = client.Get(resp.Header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET: %d", resp.StatusCode)
			}
			// The gateway keeps its connections to the targets alive, so
			// through the listener they are still established now.
			n := establishedTo(t, net.ParseIP(cfg.NLB.Address), 65535)
			switch {
			case link == stack.LinkTCP && n == 0:
				t.Fatal("gatewayLink tcp: no connection established on the ingests listener")
			case link == stack.LinkInProcess && n != 0:
				t.Fatalf("gatewayLink in-process: %d connections on the ingests listener, want none", n)
			}
		})
	}
}

// establishedTo counts the established TCP connections whose local end is
// ip:port (accepted by a listener there), from /proc/net/tcp.
func establishedTo(t *testing.T, ip net.IP, port int) int {
	t.Helper()
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		t.Skipf("no /proc/net/tcp: %v", err)
	}
	defer f.Close()
	v4 := ip.To4()
	// /proc/net/tcp writes an IPv4 address as the hex of its bytes in
	// host (little-endian) order.
	local := strings.ToUpper(hex.EncodeToString([]byte{v4[3], v4[2], v4[1], v4[0]})) + fmt.Sprintf(":%04X", port)
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 3 && fields[1] == local && fields[3] == "01" { // 01: ESTABLISHED
			n++
		}
	}
	return n
}
