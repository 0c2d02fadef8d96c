package logbuf

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"
)

// TestTextHandlerMatchesSlog: lines are byte for byte what slog.TextHandler
// writes for the same records, attributes and groups.
func TestTextHandlerMatchesSlog(t *testing.T) {
	when := time.Date(2026, 12, 2, 16, 58, 0, 123456789, time.UTC)
	records := []func() slog.Record{
		func() slog.Record {
			r := slog.NewRecord(when, slog.LevelInfo, "access", 0)
			r.AddAttrs(slog.String("requestId", "0f7d6a4c-1b6c"), slog.String("path", "/v1/ingests/x y"),
				slog.Int("status", 200), slog.Int64("bytes", -3), slog.Uint64("u", 7), slog.Float64("f", 1.5),
				slog.Bool("ok", true), slog.Duration("duration", 1500*time.Microsecond), slog.String("empty", ""),
				slog.String("quote", `a"b`), slog.String("eq", "a=b"), slog.String("bs", `a\b`), slog.String("uni", "héllo"),
				slog.String("ctl", "a\tb"), slog.String("nbsp", "a\u00a0b"), slog.Time("at", when))
			return r
		},
		func() slog.Record {
			r := slog.NewRecord(time.Time{}, slog.LevelWarn+2, "two words", 0)
			r.AddAttrs(slog.Any("err", errors.New("boom: it broke")), slog.Any("addr", netip.MustParseAddr("127.0.0.1")),
				slog.Any("bytes", []byte("raw\n")), slog.Any("list", []int{1, 2}), slog.Any("nil", nil),
				slog.Group("g", slog.String("a", "1"), slog.Group("h", slog.Int("b", 2))), slog.Group("", slog.String("inline", "x")),
				slog.Group("empty"), slog.Attr{})
			return r
		},
		func() slog.Record { return slog.NewRecord(when, slog.LevelDebug, "", 0) },
	}
	type setup struct {
		name string
		fn   func(slog.Handler) slog.Handler
	}
	setups := []setup{
		{"plain", func(h slog.Handler) slog.Handler { return h }},
		{"with attrs", func(h slog.Handler) slog.Handler {
			return h.WithAttrs([]slog.Attr{slog.String("component", "gateway"), slog.Int("n", 1)})
		}},
		{"with group", func(h slog.Handler) slog.Handler {
			return h.WithAttrs([]slog.Attr{slog.String("c", "x")}).WithGroup("req").WithAttrs([]slog.Attr{slog.String("id", "1")}).WithGroup("inner")
		}},
	}
	for _, s := range setups {
		for i, mk := range records {
			var want bytes.Buffer
			ref := s.fn(slog.NewTextHandler(&want, &slog.HandlerOptions{Level: slog.LevelDebug}))
			if err := ref.Handle(context.Background(), mk()); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			w := New(&got, 0, time.Hour)
			h := s.fn(NewTextHandler(w, slog.LevelDebug, slog.LevelError))
			if err := h.Handle(context.Background(), mk()); err != nil {
				t.Fatal(err)
			}
			w.Flush()
			if got.String() != want.String() {
				t.Errorf("%s, record %d:\n got %s\nwant %s", s.name, i, got.String(), want.String())
			}
		}
	}
}

func TestTextHandlerLevelAndFlush(t *testing.T) {
	var out bytes.Buffer
	w := New(&out, 0, time.Hour)
	log := slog.New(NewTextHandler(w, slog.LevelInfo, slog.LevelWarn))
	log.Debug("hidden")
	log.Info("held")
	if out.Len() != 0 {
		t.Fatalf("written before a flush: %q", out.String())
	}
	log.Warn("now")
	if s := out.String(); !bytes.Contains([]byte(s), []byte("msg=held")) || !bytes.Contains([]byte(s), []byte("msg=now")) || bytes.Contains([]byte(s), []byte("hidden")) {
		t.Fatalf("got %q", s)
	}
}

// BenchmarkAccessLine compares an access log line through slog.TextHandler
// and through NewTextHandler.
func BenchmarkAccessLine(b *testing.B) {
	attrs := []slog.Attr{
		slog.String("requestId", "0f7d6a4c-1b6c-4d43-8a56-2a6a3b8d9e51"), slog.String("apigwId", "Fq3pWHc5DoEFdXw="),
		slog.String("sourceIp", "127.0.0.1"), slog.String("client_id", "abcdefghijklmnopqrstuvwxyz"),
		slog.String("method", "GET"), slog.String("resourcePath", "/ingests/{id}"),
		slog.String("path", "/v1/ingests/0f7d6a4c-1b6c-4d43-8a56-2a6a3b8d9e51"), slog.String("stage", "v1"),
		slog.String("domainName", "127.0.0.1"), slog.Int("status", 200), slog.Int64("responseLength", 843),
		slog.Int64("integrationLatency", 3), slog.Int64("responseLatency", 4),
	}
	for _, bc := range []struct {
		name string
		h    func(w *Writer) slog.Handler
	}{
		{"slog.TextHandler", func(w *Writer) slog.Handler { return slog.NewTextHandler(w, nil) }},
		{"logbuf.TextHandler", func(w *Writer) slog.Handler { return NewTextHandler(w, slog.LevelInfo, slog.LevelWarn) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := New(io.Discard, 0, time.Hour)
			log := slog.New(bc.h(w)).With("component", "gateway")
			b.ReportAllocs()
			for b.Loop() {
				log.LogAttrs(context.Background(), slog.LevelInfo, "access", attrs...)
			}
		})
	}
}
