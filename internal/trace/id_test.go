package trace

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestValidHeader(t *testing.T) {
	const root = "Root=1-5759e988-bd862e3fe1be46a994272793"
	for _, tt := range []struct {
		v    string
		want bool
	}{
		{root, true},
		{root + ";Parent=53995c3f42cd8ad8;Sampled=1", true},
		{root + ";Sampled=0", true},
		{root + ";Sampled=?", true},
		{root + ";Parent=53995c3f42cd8ad8", true},
		{root + ";Lineage=a87bd80c:1|68fd508a:5", true},
		{root + ";Self=1-67891234-12456789abcdef012345678", true},
		{"", false},
		{"garbage", false},
		{"Root=1-5759E988-bd862e3fe1be46a994272793", false},  // hex is lower case
		{"Root=1-5759e988-BD862E3FE1BE46A994272793", false},  // in both parts
		{"root=1-5759e988-bd862e3fe1be46a994272793", false},  // the key is Root
		{"Root=2-5759e988-bd862e3fe1be46a994272793", false},  // version 1 only
		{"Root=1-5759e988-bd862e3fe1be46a99427279", false},   // short
		{"Root=1-5759e988-bd862e3fe1be46a994272793x", false}, // long
		{"Root=1-5759e98-8bd862e3fe1be46a994272793", false},  // dash misplaced
		{"Root=1-5759e988-bd862e3fe1be46a99427279g", false},  // not hex
		{"Self=1-5759e988-bd862e3fe1be46a994272793", false},  // not Root first
		{" " + root, false},                                                    // no padding
		{root + ";", false},                                                    // trailing ;
		{root + ";;Sampled=1", false},                                          // empty field
		{root + ";Sampled=2", false},                                           // 0, 1 or ?
		{root + ";Sampled=1;Sampled=0", false},                                 // once
		{root + ";Parent=53995C3F42CD8AD8", false},                             // lower case
		{root + ";Parent=53995c3f42cd8ad", false},                              // 16 digits
		{root + ";Root=1-5759e988-bd862e3fe1be46a994272793", false},            // one Root
		{root + ";Sampled", false},                                             // key=value
		{root + ";=1", false},                                                  // a key
		{root + ";Foo=a b", false},                                             // no spaces
		{root + ";Foo=a,b", false},                                             // no commas
		{root + ";Foo=a\x00", false},                                           // no controls
		{root + ";Fo o=1", false},                                              // key characters
		{root + ";" + strings.Repeat("k", 65) + "=1", false},                   // key length
		{root + ";Foo=" + strings.Repeat("a", MaxHeaderLen), false},            // oversize
		{root + ";Foo=" + strings.Repeat("a", MaxHeaderLen-len(root)-5), true}, // at the bound
	} {
		if got := ValidHeader([]byte(tt.v)); got != tt.want {
			t.Errorf("ValidHeader(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestNewHeader(t *testing.T) {
	now := time.Unix(0x5759e988, 0)
	h := NewHeader(now)
	if !regexp.MustCompile(`^Root=1-5759e988-[0-9a-f]{24}$`).MatchString(h) || !ValidHeader([]byte(h)) {
		t.Fatalf("NewHeader = %q", h)
	}
	if NewHeader(now) == h {
		t.Error("two headers alike")
	}
	if r := RootOf(h); r != h[5:] || !ValidRoot(r) {
		t.Errorf("RootOf = %q", r)
	}
	for _, bad := range []string{"", "1-5759e988-bd862e3fe1be46a99427279", "1-5759E988-bd862e3fe1be46a994272793", "2-5759e988-bd862e3fe1be46a994272793", "1-5759e988xbd862e3fe1be46a994272793"} {
		if ValidRoot(bad) {
			t.Errorf("ValidRoot(%q)", bad)
		}
	}
}

func TestRootIn(t *testing.T) {
	vals := func(vs ...string) func(func([]byte) bool) {
		return func(yield func([]byte) bool) {
			for _, v := range vs {
				if !yield([]byte(v)) {
					return
				}
			}
		}
	}
	const root = "1-5759e988-bd862e3fe1be46a994272793"
	if got := RootIn(vals("garbage", "Root="+root+";Sampled=1")); got != root {
		t.Errorf("RootIn = %q", got)
	}
	if got := RootIn(vals("garbage")); got != "" {
		t.Errorf("RootIn = %q", got)
	}
}

// FuzzValidHeader: the parser never panics, and what it accepts is within
// its bound and yields a valid trace id.
func FuzzValidHeader(f *testing.F) {
	for _, s := range []string{"Root=1-5759e988-bd862e3fe1be46a994272793", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", "garbage", "Root=1-5759e988-bd862e3fe1be46a994272793;;"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		if !ValidHeader(v) {
			return
		}
		if len(v) > MaxHeaderLen || !ValidRoot(RootOf(string(v))) {
			t.Fatalf("accepted %q", v)
		}
	})
}

// FuzzParseWire: a batch line never panics the collector, and what it
// accepts has statuses in range and survives a round trip.
func FuzzParseWire(f *testing.F) {
	f.Add(appendWire(nil, &Hop{Kind: KindApp, Trace: "1-5759e988-bd862e3fe1be46a994272793", Start: 1, Duration: 2, Status: 200, Path: "/x"}))
	f.Add([]byte("h1\tapp"))
	f.Fuzz(func(t *testing.T, line []byte) {
		h, err := parseWire(line)
		if err != nil {
			return
		}
		if h.Status < 0 || h.Status > 999 || h.UpstreamStatus < 0 || h.UpstreamStatus > 999 {
			t.Fatalf("accepted %+v", h)
		}
		line = appendWire(nil, &h)
		if _, err := parseWire(line[:len(line)-1]); err != nil {
			t.Fatalf("round trip of %+v: %v", h, err)
		}
	})
}
