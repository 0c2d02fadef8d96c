package nlb

import (
	"net"
	"net/netip"
	"time"

	"github.com/portway/portway/internal/trace"
)

// flowRecord is a flow's entry in Config.Flows (trace.FlowLog): the join
// of a request's gateway hop with the flow that carried it.
type flowRecord struct {
	id             uint64
	client, server netip.AddrPort
}

// openFlow records a flow whose target connection is up. For a listener
// flow the addresses are the client's and the listener's; for an
// in-process flow, the target connection's own (the client holds it).
func (lb *LoadBalancer) openFlow(client, server netip.AddrPort, l *listener, t *target, opened time.Time, inProcess bool) flowRecord {
	if lb.cfg.Flows == nil {
		return flowRecord{}
	}
	id := lb.cfg.Flows.Open(trace.Flow{
		Client: client, Server: server, Listener: l.addr.String(), TargetGroup: l.group.cfg.Name,
		Target: t.String(), InProcess: inProcess, Opened: opened.UnixMicro(), Connect: time.Since(opened).Microseconds(),
	})
	return flowRecord{id: id, client: client, server: server}
}

// closeFlow records the end of a flow, with the bytes its socket c moved
// both ways (tcpBytes: TCP_INFO where the system has it).
func (lb *LoadBalancer) closeFlow(r flowRecord, c *net.TCPConn) {
	if r.id == 0 {
		return
	}
	sent, received, _ := tcpBytes(c)
	lb.cfg.Flows.Close(r.id, r.client, r.server, int64(sent+received))
}
