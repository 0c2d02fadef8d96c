package logbuf

import (
	"context"
	"encoding"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// NewTextHandler returns a slog handler that writes the lines
// slog.TextHandler writes (key=value pairs, values quoted when needed,
// groups as dotted keys), formatted straight into a byte slice: about three
// times cheaper per line, which matters for access logs on the request
// path. Records at flushAt or above are written out at once (see
// FlushAbove); others wait for w's next flush.
func NewTextHandler(w *Writer, level slog.Leveler, flushAt slog.Level) slog.Handler {
	if level == nil {
		level = slog.LevelInfo
	}
	return &textHandler{w: w, level: level, flushAt: flushAt}
}

type textHandler struct {
	w       *Writer
	level   slog.Leveler
	flushAt slog.Level
	pre     []byte // attributes from WithAttrs, formatted: " k=v k2=v2"
	prefix  string // open groups from WithGroup: "g1.g2."
}

var linePool = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

func (h *textHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *textHandler) Handle(_ context.Context, r slog.Record) error {
	bp := linePool.Get().(*[]byte)
	b := (*bp)[:0]
	if !r.Time.IsZero() {
		b = append(b, "time="...)
		b = appendTime(b, r.Time)
		b = append(b, ' ')
	}
	b = append(b, "level="...)
	b = append(b, r.Level.String()...)
	b = append(b, " msg="...)
	b = appendString(b, r.Message)
	b = append(b, h.pre...)
	r.Attrs(func(a slog.Attr) bool {
		b = appendAttr(b, h.prefix, a)
		return true
	})
	b = append(b, '\n')
	_, err := h.w.Write(b)
	if err == nil && r.Level >= h.flushAt {
		err = h.w.Flush()
	}
	if cap(b) <= 64<<10 {
		*bp = b
		linePool.Put(bp)
	}
	return err
}

func (h *textHandler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	h2 := *h
	h2.pre = append([]byte(nil), h.pre...)
	for _, a := range as {
		h2.pre = appendAttr(h2.pre, h.prefix, a)
	}
	return &h2
}

func (h *textHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	return &h2
}

// appendAttr appends " key=value", or nothing for an empty attribute.
func appendAttr(b []byte, prefix string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return b
	}
	if a.Value.Kind() == slog.KindGroup {
		attrs := a.Value.Group()
		if len(attrs) == 0 {
			return b
		}
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, ga := range attrs {
			b = appendAttr(b, prefix, ga)
		}
		return b
	}
	b = append(b, ' ')
	if prefix == "" {
		b = appendString(b, a.Key)
	} else {
		b = appendString(b, prefix+a.Key)
	}
	b = append(b, '=')
	return appendValue(b, a.Value)
}

func appendValue(b []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendString(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		return strconv.AppendFloat(b, v.Float64(), 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return appendString(b, v.Duration().String())
	case slog.KindTime:
		return appendTime(b, v.Time())
	}
	switch x := v.Any().(type) {
	case encoding.TextMarshaler:
		data, err := x.MarshalText()
		if err != nil {
			return appendString(b, "!ERROR:"+err.Error())
		}
		return appendString(b, string(data))
	case []byte:
		return append(b, strconv.Quote(string(x))...)
	default:
		return appendString(b, fmt.Sprintf("%+v", x))
	}
}

// appendTime is slog's text form of a time: RFC 3339 with milliseconds.
func appendTime(b []byte, t time.Time) []byte {
	return t.Truncate(time.Millisecond).AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
}

// appendString appends s, quoted when slog.TextHandler would quote it.
func appendString(b []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

// needsQuoting is slog.TextHandler's rule: empty strings, and strings with
// spaces, '=', '"', control or non-printing characters, are quoted.
func needsQuoting(s string) bool {
	if len(s) == 0 {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if quoteASCII[c] {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// quoteASCII marks the ASCII bytes that make slog quote a string: control
// characters, DEL, space, '=' and '"' (a backslash alone does not).
var quoteASCII = func() (t [utf8.RuneSelf]bool) {
	for c := range utf8.RuneSelf {
		t[c] = c < ' ' || c == utf8.RuneSelf-1 || c == ' ' || c == '=' || c == '"'
	}
	return t
}()
