package gateway

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/portway/portway/internal/trace"
)

// AccessLog writes one line per request in a format of API Gateway's
// access logging ($context variables, as in a stage's
// accessLogSettings.format).
type AccessLog struct {
	// Format is the line template: text with $context.<name> variables
	// (AccessLogVariables); "" is DefaultAccessLogFormat. Values are
	// escaped as in a JSON string (so a JSON template stays JSON); a
	// value a request does not have is "-", as AWS logs it.
	Format string
	// Out takes each line, newline included, in one Write; it must be
	// safe for concurrent use.
	Out io.Writer
}

// DefaultAccessLogFormat is a JSON line with the $context names the
// storage service's operators look for.
const DefaultAccessLogFormat = `{"requestId":"$context.requestId","extendedRequestId":"$context.extendedRequestId",` +
	`"ip":"$context.identity.sourceIp","requestTime":"$context.requestTime","requestTimeEpoch":"$context.requestTimeEpoch",` +
	`"httpMethod":"$context.httpMethod","resourcePath":"$context.resourcePath","path":"$context.path",` +
	`"status":"$context.status","protocol":"$context.protocol","responseLength":"$context.responseLength",` +
	`"integrationLatency":"$context.integrationLatency","responseLatency":"$context.responseLatency",` +
	`"authorizer.error":"$context.authorizer.error","authorizer.claims.client_id":"$context.authorizer.claims.client_id",` +
	`"xrayTraceId":"$context.xrayTraceId","stage":"$context.stage","domainName":"$context.domainName",` +
	`"error.responseType":"$context.error.responseType"}`

// accessVar renders one $context variable of a request; "" logs "-".
type accessVar func(b []byte, a *accessEntry) []byte

// plainVars never need escaping: ids, numbers, times, tokens the gateway
// made or checked.
var plainVars = map[string]bool{
	"requestId": true, "extendedRequestId": true, "identity.sourceIp": true, "requestTime": true,
	"requestTimeEpoch": true, "httpMethod": true, "status": true, "protocol": true, "responseLength": true,
	"integrationLatency": true, "integration.latency": true, "responseLatency": true,
	"xrayTraceId": true, "error.responseType": true,
}

// accessEntry is what a log line may say of a request.
type accessEntry struct {
	r     *request
	st    *reqState
	end   time.Time
	times *atomic.Pointer[cachedTime] // the format's requestTime cache
}

// requestTimeLayout is $context.requestTime's: CLF, "07/Dec/2026:03:04:05 +0000".
const requestTimeLayout = "02/Jan/2006:15:04:05 -0700"

var accessVars = map[string]accessVar{
	"requestId":         func(b []byte, a *accessEntry) []byte { return append(b, a.st.requestID...) },
	"extendedRequestId": func(b []byte, a *accessEntry) []byte { return append(b, a.st.apigwID...) },
	"identity.sourceIp": func(b []byte, a *accessEntry) []byte { return append(b, a.r.sc.RemoteIP...) },
	"identity.userAgent": func(b []byte, a *accessEntry) []byte {
		ua, _ := a.r.sc.Req.Get("user-agent")
		return append(b, ua...)
	},
	"requestTime": func(b []byte, a *accessEntry) []byte { return appendRequestTime(b, a.times, a.st.start) },
	"requestTimeEpoch": func(b []byte, a *accessEntry) []byte {
		return strconv.AppendInt(b, a.st.start.UnixMilli(), 10)
	},
	"httpMethod":   func(b []byte, a *accessEntry) []byte { return append(b, a.r.method...) },
	"resourcePath": func(b []byte, a *accessEntry) []byte { return appendNotDash(b, a.st.resourcePath) },
	"path":         func(b []byte, a *accessEntry) []byte { return append(b, a.st.path...) },
	"status":       func(b []byte, a *accessEntry) []byte { return strconv.AppendInt(b, int64(a.st.finalStatus()), 10) },
	"protocol": func(b []byte, a *accessEntry) []byte {
		return append(append(b, "HTTP/1."...), byte('0'+a.r.sc.Req.Minor))
	},
	"responseLength":      func(b []byte, a *accessEntry) []byte { return strconv.AppendInt(b, a.st.bytes, 10) },
	"integrationLatency":  integrationLatencyVar,
	"integration.latency": integrationLatencyVar,
	"responseLatency": func(b []byte, a *accessEntry) []byte {
		return strconv.AppendInt(b, a.end.Sub(a.st.start).Milliseconds(), 10)
	},
	"authorizer.error":            func(b []byte, a *accessEntry) []byte { return append(b, a.st.authError...) },
	"authorizer.claims.client_id": func(b []byte, a *accessEntry) []byte { return append(b, a.st.logClientID()...) },
	"xrayTraceId":                 func(b []byte, a *accessEntry) []byte { return append(b, trace.RootOf(a.st.trace)...) },
	"stage":                       func(b []byte, a *accessEntry) []byte { return append(b, a.st.stage...) },
	"domainName":                  func(b []byte, a *accessEntry) []byte { return append(b, a.st.domain...) },
	"error.responseType":          func(b []byte, a *accessEntry) []byte { return append(b, a.st.errType...) },
	"error.message": func(b []byte, a *accessEntry) []byte {
		if a.st.errType == "" {
			return b
		}
		return append(b, a.st.reason...)
	},
}

// integrationLatencyVar is "-" for a request the gateway answered
// without calling the integration.
func integrationLatencyVar(b []byte, a *accessEntry) []byte {
	if a.r.call.g == nil {
		return b
	}
	return strconv.AppendInt(b, a.st.integrationLatency.Milliseconds(), 10)
}

func appendNotDash(b []byte, s string) []byte {
	if s == "-" {
		return b
	}
	return append(b, s...)
}

// AccessLogVariables lists the $context variables an access log format may use.
func AccessLogVariables() []string {
	out := make([]string, 0, len(accessVars))
	for k := range accessVars {
		out = append(out, "$context."+k)
	}
	return out
}

// cachedTime is the last second's $context.requestTime: formatting a time
// costs more than the rest of a line.
type cachedTime struct {
	sec  int64
	text string
}

func appendRequestTime(b []byte, cache *atomic.Pointer[cachedTime], t time.Time) []byte {
	sec := t.Unix()
	if c := cache.Load(); c != nil && c.sec == sec {
		return append(b, c.text...)
	}
	text := t.UTC().Format(requestTimeLayout)
	cache.Store(&cachedTime{sec: sec, text: text})
	return append(b, text...)
}

// accessFormat is a parsed format: literal text and variables in turn.
type accessFormat struct {
	lits  []string    // len(vars)+1
	vars  []accessVar // between lits
	plain []bool      // vars[i] needs no escaping
	times atomic.Pointer[cachedTime]
}

// parseAccessFormat parses an accessLogSettings.format template; an
// unknown $context variable is an error naming it.
func parseAccessFormat(f string) (*accessFormat, error) {
	if f == "" {
		f = DefaultAccessLogFormat
	}
	if strings.ContainsAny(f, "\r\n") {
		return nil, errors.New("must be one line (no newline)")
	}
	const pfx = "$context."
	af := &accessFormat{}
	rest := f
	var lit strings.Builder
	for {
		i := strings.Index(rest, pfx)
		if i < 0 {
			lit.WriteString(rest)
			break
		}
		lit.WriteString(rest[:i])
		rest = rest[i+len(pfx):]
		n := 0
		for n < len(rest) && varChar(rest[n]) {
			n++
		}
		name := strings.TrimRight(rest[:n], ".")
		rest = rest[len(name):]
		v, ok := accessVars[name]
		if !ok {
			return nil, fmt.Errorf("unknown variable $context.%s (known: %s)", name, strings.Join(sortedVars(), ", "))
		}
		af.lits = append(af.lits, lit.String())
		lit.Reset()
		af.vars = append(af.vars, v)
		af.plain = append(af.plain, plainVars[name])
	}
	af.lits = append(af.lits, lit.String())
	if len(af.vars) == 0 {
		return nil, errors.New("has no $context variable")
	}
	return af, nil
}

func varChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.'
}

func sortedVars() []string {
	vs := AccessLogVariables()
	for i := range vs {
		vs[i] = strings.TrimPrefix(vs[i], "$context.")
	}
	slices.Sort(vs)
	return vs
}

// ValidateAccessLogFormat checks a format as the gateway will parse it.
func ValidateAccessLogFormat(f string) error {
	_, err := parseAccessFormat(f)
	return err
}

// render appends the line of one request, newline included.
func (af *accessFormat) render(b []byte, a *accessEntry) []byte {
	a.times = &af.times
	var scratch [128]byte
	for i, v := range af.vars {
		b = append(b, af.lits[i]...)
		val := v(scratch[:0], a)
		switch {
		case len(val) == 0:
			b = append(b, '-')
		case af.plain[i]:
			b = append(b, val...)
		default:
			b = appendEscaped(b, val)
		}
	}
	b = append(b, af.lits[len(af.lits)-1]...)
	return append(b, '\n')
}

// appendEscaped appends s escaped as inside a JSON string: quotes,
// backslashes and control characters; invalid UTF-8 as U+FFFD.
func appendEscaped(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	plain := true
	for _, c := range s {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		return append(b, s...)
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return b
}
