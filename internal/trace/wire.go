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
	b = strconv.AppendInt(append(b, '\t'), h.Start, 10)
	b = strconv.AppendInt(append(b, '\t'), h.Duration, 10)
	b = strconv.AppendInt(append(b, '\t'), int64(h.Status), 10)
	b = strconv.AppendInt(append(b, '\t'), int64(h.UpstreamStatus), 10)
	b = strconv.AppendInt(append(b, '\t'), h.UpstreamTime, 10)
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

// parseWire reads one line of the wire format (without its newline).
func parseWire(line []byte) (Hop, error) {
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
		v, err := strconv.ParseInt(string(f[3+i]), 10, 64)
		if err != nil {
			return Hop{}, errWire
		}
		ints[i] = v
	}
	if ints[2] < 0 || ints[2] > 999 || ints[3] < 0 || ints[3] > 999 {
		return Hop{}, errWire
	}
	return Hop{
		Kind: string(f[1]), Trace: string(f[2]), Start: ints[0], Duration: ints[1], Status: int(ints[2]),
		UpstreamStatus: int(ints[3]), UpstreamTime: ints[4],
		Method: string(f[8]), Path: string(f[9]), Task: string(f[10]), Error: string(f[11]),
	}, nil
}
