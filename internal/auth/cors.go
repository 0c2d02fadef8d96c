package auth

import (
	"net/http"
	"strings"
)

// tokenCORS gives the token endpoint Cognito's cross-origin behaviour.
//
// Cognito's developer guide, "The token issuer endpoint"
// (https://docs.aws.amazon.com/cognito/latest/developerguide/token-endpoint.html):
// "The token endpoint returns an Access-Control-Allow-Origin: * response
// header. You can call the token endpoint cross-origin from a browser-based
// application. [...] Amazon Cognito doesn't support custom cross-origin
// resource sharing (CORS) origin policies on this endpoint." So every
// response, success or error, carries Access-Control-Allow-Origin: *.
//
// What Cognito answers to the preflight (OPTIONS) is not documented. The
// smallest answer that lets every cross-origin POST through, as the guide
// says it goes through, is used: 204 with Access-Control-Allow-Origin: *,
// Access-Control-Allow-Methods: POST, and the requested headers echoed in
// Access-Control-Allow-Headers (a browser sends Authorization for Basic
// client credentials and Content-Type, which a form body does not need;
// SDKs may add their own). No credentials mode, no max age.
func tokenCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		if r.Method != http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Allow", "OPTIONS, POST")
		if r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", http.MethodPost)
			if req := r.Header.Values("Access-Control-Request-Headers"); len(req) > 0 {
				list := strings.Join(req, ",")
				if validTokenList(list) {
					h.Set("Access-Control-Allow-Headers", list)
				}
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// validTokenList reports whether s is a comma-separated list of HTTP field
// names (RFC 9110 tokens) with optional white space, as
// Access-Control-Request-Headers is; only such a list is echoed.
func validTokenList(s string) bool {
	if len(s) > 4096 {
		return false
	}
	for _, item := range strings.Split(s, ",") {
		item = strings.Trim(item, " \t")
		if item == "" {
			return false
		}
		for i := 0; i < len(item); i++ {
			if !isTokenChar(item[i]) {
				return false
			}
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
