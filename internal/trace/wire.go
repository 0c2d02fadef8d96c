package trace

import (
	"bytes"
	"errors"
	"strconv"
)

// The reporter's wire format: one hop a line, tab-separated, cheaper to
// write and read than JSON on the hot path of every request:
//
//	h1 kind trace start duration status upstreamStatus upstreamMicros method path task error
//
// Integers in decimal; tabs, newlines and other control characters in
// strings are sent as spaces.
const (
	wireVersion = "h1"
	wireFields  = 12
)

// appendWire appends h as a line of the wire format.
func appendWire(b []byte, h *Hop) []byte {
	b = append(b, wireVersion...)
	b = appendWireString(append(b, '\t'), h.Kind)
	b = appendWireString(append(b, '\t'), h.Trace)
	b = strconv.AppendInt(append(b, '\t'), max(h.Start, 0), 10)
	b = strconv.AppendInt(append(b, '\t'), max(h.Duration, 0), 10)
	b = strconv.AppendInt(append(b, '\t'), int64(min(max(h.Status, 0), 999)), 10)
	b = strconv.AppendInt(append(b, '\t'), int64(min(max(h.UpstreamStatus, 0), 999)), 10)
	b = strconv.AppendInt(append(b, '\t'), max(h.UpstreamTime, 0), 10)
	b = appendWireString(append(b, '\t'), h.Method)
	b = appendWireString(append(b, '\t'), h.Path)
	b = appendWireString(append(b, '\t'), h.Task)
	b = appendWireString(append(b, '\t'), h.Error)
	return append(b, '\n')
}

func appendWireString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}

var errWire = errors.New("not a hop line")

// wireStrings keeps the strings a batch repeats (kinds, methods, the
// task), so that reading a hop allocates little more than its trace id.
type wireStrings struct{ last [3]string }

func (ws *wireStrings) get(b []byte, slot int) string {
	switch string(b) { // no allocation: compared in place
	case KindSidecar:
		return KindSidecar
	case KindApp:
		return KindApp
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "":
		return ""
	}
	if ws != nil {
		if ws.last[slot] == string(b) {
			return ws.last[slot]
		}
		ws.last[slot] = string(b)
		return ws.last[slot]
	}
	return string(b)
}

// parseWire reads one line of the wire format (without its newline).
func parseWire(line []byte) (Hop, error) { return parseWireWith(nil, line) }

// parseWireWith is parseWire with the repeated strings of a batch shared.
func parseWireWith(ws *wireStrings, line []byte) (Hop, error) {
	var f [wireFields][]byte
	n := 0
	for n < wireFields-1 {
		i := bytes.IndexByte(line, '\t')
		if i < 0 {
			return Hop{}, errWire
		}
		f[n], line = line[:i], line[i+1:]
		n++
	}
	f[n] = line
	if string(f[0]) != wireVersion || bytes.IndexByte(line, '\t') >= 0 {
		return Hop{}, errWire
	}
	var ints [5]int64
	for i := range ints {
		v, ok := parseDecimal(f[3+i])
		if !ok {
			return Hop{}, errWire
		}
		ints[i] = v
	}
	if ints[2] < 0 || ints[2] > 999 || ints[3] < 0 || ints[3] > 999 {
		return Hop{}, errWire
	}
	return Hop{
		Kind: ws.get(f[1], 0), Trace: string(f[2]), Start: ints[0], Duration: ints[1], Status: int(ints[2]),
		UpstreamStatus: int(ints[3]), UpstreamTime: ints[4],
		Method: ws.get(f[8], 1), Path: string(f[9]), Task: ws.get(f[10], 2), Error: string(f[11]),
	}, nil
}

// parseDecimal reads a non-negative decimal of at most 18 digits.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}
