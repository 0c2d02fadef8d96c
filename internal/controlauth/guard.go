package controlauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Config configures a Guard.
type Config struct {
	// Token is the bearer token (LoadOrCreateToken).
	Token string
	// Addr is the control listener's bound address (host:port). Requests
	// whose Host names another host are refused: this defeats DNS
	// rebinding, whose requests carry the attacker's name.
	Addr string
	// Names are further host names the listener may be reached by (a TLS
	// certificate's names).
	Names []string
	// TLS tells that the listener serves HTTPS: the cookie gets Secure and
	// the own origin is https.
	TLS bool
	// Hint ends the message of a 401: how to authenticate.
	Hint string
	// SelfAuthenticated, when set, reports requests that the next handler
	// authenticates itself (AWS calls, signed with SigV4): the guard lets
	// them through without the token, after its Host check and with no
	// Origin other than the listener's own.
	SelfAuthenticated func(*http.Request) bool
}

// cookieLabel is what the console cookie is an HMAC of, keyed by the token.
const cookieLabel = "portway control console cookie v1"

// Guard authenticates every request of the control API:
//
//   - Host must name the listener (its IP, localhost for loopback, or
//     Config.Names), else 403;
//   - a request Config.SelfAuthenticated claims (an AWS call) goes on to
//     the next handler, which authenticates it, unless its Origin is
//     another's (403);
//   - GET /?token=<token> is the console login: it sets a cookie (HttpOnly,
//     SameSite=Strict) and redirects (303) to / without the token;
//   - "Authorization: Bearer <token>" grants everything; the cookie grants
//     GET and HEAD only (403 otherwise); neither: 401 with
//     WWW-Authenticate: Bearer;
//   - a request other than GET, HEAD and OPTIONS must carry the header, no
//     Origin other than the listener's own (403), and Content-Type
//     application/json (415).
//
// The cookie's value is not the token but an HMAC derived from it, so a
// stolen cookie is no bearer token. The token itself is never logged.
type Guard struct {
	cfg        Config
	tokenSum   [32]byte
	cookieName string
	cookieVal  string
	ip         netip.Addr // listener IP; invalid for a host name
	anyIP      bool       // listener on all addresses
	loopback   bool
	names      map[string]bool
}

// New checks cfg and builds a guard.
func New(cfg Config) (*Guard, error) {
	if len(cfg.Token) < minTokenLen {
		return nil, errors.New("controlauth: token too short")
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("controlauth: listener address: %w", err)
	}
	g := &Guard{cfg: cfg, tokenSum: sha256.Sum256([]byte(cfg.Token)), names: map[string]bool{}}
	mac := hmac.New(sha256.New, []byte(cfg.Token))
	mac.Write([]byte(cookieLabel))
	g.cookieVal = base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	// Cookies do not keep ports apart: a name per port keeps two stacks on
	// one host from overwriting each other's login.
	g.cookieName = "portway_control_" + port
	switch ip, err := netip.ParseAddr(host); {
	case host == "":
		g.anyIP, g.loopback = true, true
	case err == nil:
		g.ip = ip.Unmap()
		g.anyIP = g.ip.IsUnspecified()
		g.loopback = g.anyIP || g.ip.IsLoopback()
	default:
		g.names[normHost(host)] = true
		g.loopback = normHost(host) == "localhost"
	}
	if g.loopback {
		g.names["localhost"] = true
	}
	for _, n := range cfg.Names {
		g.names[normHost(n)] = true
	}
	return g, nil
}

// CookieName is the console cookie's name.
func (g *Guard) CookieName() string { return g.cookieName }

func normHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

// hostAllowed reports whether a Host field names this listener.
func (g *Guard) hostAllowed(hostport string) bool {
	if hostport == "" {
		return false
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return false
		}
		ip = ip.Unmap()
		// Rebinding needs a name; any of the host's own IPs is fine for a
		// listener on all of them.
		return g.anyIP || (g.ip.IsValid() && ip == g.ip) ||
			(g.names["localhost"] && !g.ip.IsValid() && ip.IsLoopback())
	}
	return g.names[normHost(host)]
}

func (g *Guard) tokenOK(tok string) bool {
	sum := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(sum[:], g.tokenSum[:]) == 1
}

func (g *Guard) tls(r *http.Request) bool { return g.cfg.TLS || r.TLS != nil }

// credential is how a request authenticated.
type credential int

const (
	credNone credential = iota
	credBad
	credCookie
	credBearer
)

func (g *Guard) credential(r *http.Request) credential {
	if h := r.Header.Values("Authorization"); len(h) > 0 {
		scheme, tok, ok := strings.Cut(h[0], " ")
		if len(h) == 1 && ok && strings.EqualFold(scheme, "Bearer") && g.tokenOK(strings.TrimSpace(tok)) {
			return credBearer
		}
		return credBad
	}
	for _, c := range r.CookiesNamed(g.cookieName) {
		if subtle.ConstantTimeCompare([]byte(c.Value), []byte(g.cookieVal)) == 1 {
			return credCookie
		}
	}
	return credNone
}

// Handler wraps next with the guard.
func (g *Guard) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if !g.hostAllowed(r.Host) {
			g.refuse(w, r, http.StatusForbidden, fmt.Sprintf("Host %q is not this control API's address", r.Host))
			return
		}
		if g.cfg.SelfAuthenticated != nil && g.cfg.SelfAuthenticated(r) {
			if o := r.Header.Values("Origin"); len(o) > 1 || (len(o) == 1 && o[0] != g.origin(r)) {
				g.refuse(w, r, http.StatusForbidden, fmt.Sprintf("cross-origin request refused (Origin %q)", strings.Join(o, ", ")))
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Query().Has("token") {
			g.login(w, r)
			return
		}
		cred := g.credential(r)
		switch cred {
		case credNone:
			g.refuse(w, r, http.StatusUnauthorized, "missing control token")
			return
		case credBad:
			g.refuse(w, r, http.StatusUnauthorized, "invalid control token")
			return
		}
		read := r.Method == http.MethodGet || r.Method == http.MethodHead
		if !read && cred != credBearer {
			g.refuse(w, r, http.StatusForbidden, "the console login grants reads only (GET, HEAD); send Authorization: Bearer")
			return
		}
		if !read && r.Method != http.MethodOptions {
			if o := r.Header.Values("Origin"); len(o) > 1 || (len(o) == 1 && o[0] != g.origin(r)) {
				g.refuse(w, r, http.StatusForbidden, fmt.Sprintf("cross-origin request refused (Origin %q)", strings.Join(o, ", ")))
				return
			}
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
				g.refuse(w, r, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// origin is the listener's own origin as the request reached it (its Host
// is allowed by then).
func (g *Guard) origin(r *http.Request) string {
	if g.tls(r) {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// login checks ?token=, sets the console cookie and redirects to / so the
// token leaves the address bar.
func (g *Guard) login(w http.ResponseWriter, r *http.Request) {
	if !g.tokenOK(r.URL.Query().Get("token")) {
		g.refuse(w, r, http.StatusUnauthorized, "invalid control token in the login URL")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     g.cookieName,
		Value:    g.cookieVal,
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		Secure:   g.tls(r),
	})
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", "/")
	w.WriteHeader(http.StatusSeeOther)
}

// refuse answers an error: an HTML page to a browser, JSON otherwise.
func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="portway control"`)
		if g.cfg.Hint != "" {
			msg += "; " + g.cfg.Hint
		}
	}
	if wantsHTML(r) {
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_ = refusePage.Execute(w, struct {
			Status string
			Msg    string
		}{fmt.Sprintf("%d %s", status, http.StatusText(status)), msg})
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func wantsHTML(r *http.Request) bool {
	for _, a := range r.Header.Values("Accept") {
		if strings.Contains(a, "text/html") {
			return true
		}
	}
	return false
}

var refusePage = template.Must(template.New("refuse").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>portway: {{.Status}}</title></head>
<body style="font:14px/1.4 system-ui,sans-serif;margin:2em">
<h1>{{.Status}}</h1><p>{{.Msg}}</p></body></html>
`))

// LoginURL is the console login URL of a control API at baseURL.
func LoginURL(baseURL, token string) string {
	return strings.TrimSuffix(baseURL, "/") + "/?token=" + url.QueryEscape(token)
}

// CheckListen refuses a control listener on a non-loopback address without
// TLS: the token travels in every request. field names the setting in the
// error (control.listen, --control-listen).
func CheckListen(field, addr string, tls bool) error {
	if tls {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %s: %w", field, addr, err)
	}
	if ip, err := netip.ParseAddr(host); (err == nil && ip.Unmap().IsLoopback()) || normHost(host) == "localhost" {
		return nil
	}
	return fmt.Errorf("%s %s is not a loopback address: the control API carries its token in every request, "+
		"so it needs TLS (tls.certFile/tls.keyFile or --tls)", field, addr)
}
