package awsapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SigV4 constants (AWS General Reference, "Signature Version 4").
const (
	sigAlgorithm    = "AWS4-HMAC-SHA256"
	amzDateFormat   = "20060102T150405Z"
	scopeDateFormat = "20060102"
	unsignedPayload = "UNSIGNED-PAYLOAD"
	// MaxSkew is how far a request's time may be from the server's.
	MaxSkew = 15 * time.Minute
	// maxPresignExpires bounds X-Amz-Expires (7 days, as AWS).
	maxPresignExpires = 7 * 24 * 60 * 60
)

// AuthFailure is why a request failed authentication; each protocol words
// it with its own code (authCode).
type AuthFailure int

const (
	// FailMissing: no signature at all.
	FailMissing AuthFailure = iota + 1
	// FailIncomplete: a malformed Authorization header or presigned query.
	FailIncomplete
	// FailUnknownKey: the access key id is not this stack's.
	FailUnknownKey
	// FailSignature: the signature does not match, or the request is
	// outside its validity (skew, expiry) or scoped to another region or
	// service.
	FailSignature
)

// AuthError is a failed authentication: the failure kind and AWS's message.
type AuthError struct {
	Failure AuthFailure
	Message string
}

func (e *AuthError) Error() string { return e.Message }

// AWS's messages.
const (
	msgMissingToken = "Missing Authentication Token"
	msgUnknownKey   = "The security token included in the request is invalid."
	msgBadSignature = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

// Verifier checks SigV4 signatures against one key pair and region.
type Verifier struct {
	Credentials Credentials
	Region      string
	Now         func() time.Time // nil: time.Now
}

// signature is a parsed SigV4 signature, from the Authorization header or a
// presigned query.
type signature struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	sig                              string
	amzDate                          time.Time
	presigned                        bool
	expires                          int // presigned only, seconds
}

// SigningService returns the service a request's SigV4 credential scope
// names, and whether the request carries a SigV4 signature at all (a
// malformed one included: service is "" then).
func SigningService(r *http.Request) (service string, signed bool) {
	if a := r.Header.Get("Authorization"); strings.HasPrefix(a, sigAlgorithm) {
		if s, err := parseAuthorization(a); err == nil {
			return s.service, true
		}
		return "", true
	}
	q := r.URL.Query()
	if q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Signature") {
		if c := strings.Split(q.Get("X-Amz-Credential"), "/"); len(c) == 5 {
			return c[3], true
		}
		return "", true
	}
	return "", false
}

// Verify checks r's SigV4 signature for service; body is the request body
// (already read). It returns nil when the signature is good.
func (v *Verifier) Verify(r *http.Request, body []byte, service string) *AuthError {
	s, aerr := v.parse(r)
	if aerr != nil {
		return aerr
	}
	if subtle.ConstantTimeCompare([]byte(s.accessKey), []byte(v.Credentials.AccessKeyID)) != 1 {
		return &AuthError{FailUnknownKey, msgUnknownKey}
	}
	// The key pair is long-term: no session token belongs to it.
	if r.Header.Get("X-Amz-Security-Token") != "" || r.URL.Query().Get("X-Amz-Security-Token") != "" {
		return &AuthError{FailUnknownKey, msgUnknownKey}
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	t := now().UTC()
	if s.presigned {
		if t.Before(s.amzDate.Add(-MaxSkew)) {
			return &AuthError{FailSignature, fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)",
				s.amzDate.Format(amzDateFormat), t.Add(MaxSkew).Format(amzDateFormat), t.Format(amzDateFormat))}
		}
		if end := s.amzDate.Add(time.Duration(s.expires) * time.Second); t.After(end) {
			return &AuthError{FailSignature, fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %d sec.)",
				end.Format(amzDateFormat), t.Format(amzDateFormat), t.Format(amzDateFormat), s.expires)}
		}
	} else {
		if s.amzDate.Before(t.Add(-MaxSkew)) {
			return &AuthError{FailSignature, fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
				s.amzDate.Format(amzDateFormat), t.Add(-MaxSkew).Format(amzDateFormat), t.Format(amzDateFormat))}
		}
		if s.amzDate.After(t.Add(MaxSkew)) {
			return &AuthError{FailSignature, fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)",
				s.amzDate.Format(amzDateFormat), t.Add(MaxSkew).Format(amzDateFormat), t.Format(amzDateFormat))}
		}
	}
	if s.region != v.Region {
		return &AuthError{FailSignature, fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. ", s.region)}
	}
	if s.service != service {
		return &AuthError{FailSignature, fmt.Sprintf("Credential should be scoped to correct service: '%s'. ", service)}
	}
	payload, aerr := payloadHash(r, body, s.presigned)
	if aerr != nil {
		return aerr
	}
	canon, aerr := canonicalRequest(r, s, payload)
	if aerr != nil {
		return aerr
	}
	want := computeSignature(v.Credentials.SecretAccessKey, s, canon)
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(s.sig))) != 1 {
		return &AuthError{FailSignature, msgBadSignature}
	}
	return nil
}

func (v *Verifier) parse(r *http.Request) (*signature, *AuthError) {
	auth := r.Header.Values("Authorization")
	q := r.URL.Query()
	switch {
	case len(auth) > 1:
		return nil, &AuthError{FailIncomplete, "Only one Authorization header may be sent."}
	case len(auth) == 1:
		if q.Has("X-Amz-Signature") || q.Has("X-Amz-Algorithm") {
			return nil, &AuthError{FailIncomplete, "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be supplied."}
		}
		s, err := parseAuthorization(auth[0])
		if err != nil {
			return nil, err
		}
		d, aerr := requestDate(r)
		if aerr != nil {
			return nil, aerr
		}
		s.amzDate = d
		return s, s.checkScope()
	case q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Signature"):
		return parsePresigned(q)
	}
	return nil, &AuthError{FailMissing, msgMissingToken}
}

// parseAuthorization parses "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/
// SERVICE/aws4_request, SignedHeaders=a;b, Signature=HEX".
func parseAuthorization(h string) (*signature, *AuthError) {
	rest, ok := strings.CutPrefix(h, sigAlgorithm+" ")
	if !ok {
		return nil, &AuthError{FailIncomplete, fmt.Sprintf("Unsupported authorization type; only %s is supported.", sigAlgorithm)}
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, &AuthError{FailIncomplete, fmt.Sprintf("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters, "+
				"each as name=value. Authorization=%s", sigAlgorithm)}
		}
		fields[k] = val
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if fields[k] == "" {
			return nil, &AuthError{FailIncomplete, fmt.Sprintf("Authorization header requires '%s' parameter. Authorization=%s", k, sigAlgorithm)}
		}
	}
	s := &signature{sig: fields["Signature"], signedHeaders: strings.Split(fields["SignedHeaders"], ";")}
	if err := s.setCredential(fields["Credential"]); err != nil {
		return nil, err
	}
	return s, nil
}

func parsePresigned(q url.Values) (*signature, *AuthError) {
	if q.Get("X-Amz-Algorithm") != sigAlgorithm {
		return nil, &AuthError{FailIncomplete, fmt.Sprintf("X-Amz-Algorithm only supports \"%s\"", sigAlgorithm)}
	}
	for _, k := range []string{"X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date", "X-Amz-Expires"} {
		if q.Get(k) == "" {
			return nil, &AuthError{FailIncomplete, fmt.Sprintf("AWS query-string parameters must include '%s'. Re-examine the query-string parameters.", k)}
		}
	}
	s := &signature{sig: q.Get("X-Amz-Signature"), signedHeaders: strings.Split(q.Get("X-Amz-SignedHeaders"), ";"), presigned: true}
	if err := s.setCredential(q.Get("X-Amz-Credential")); err != nil {
		return nil, err
	}
	d, err := time.Parse(amzDateFormat, q.Get("X-Amz-Date"))
	if err != nil {
		return nil, &AuthError{FailIncomplete, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""}
	}
	s.amzDate = d
	n, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || n < 0 || n > maxPresignExpires {
		return nil, &AuthError{FailIncomplete, fmt.Sprintf("X-Amz-Expires must be a number between 0 and %d seconds", maxPresignExpires)}
	}
	s.expires = n
	return s, s.checkScope()
}

func (s *signature) setCredential(c string) *AuthError {
	parts := strings.Split(c, "/")
	if len(parts) != 5 || parts[0] == "" || parts[4] != "aws4_request" {
		return &AuthError{FailIncomplete, fmt.Sprintf("Credential should be scoped to a valid region, service and date: '%s'. ",
			strings.Join(parts[min(1, len(parts)):], "/"))}
	}
	s.accessKey, s.date, s.region, s.service = parts[0], parts[1], parts[2], parts[3]
	return nil
}

// checkScope checks the credential scope's date against the request's and
// that host is signed.
func (s *signature) checkScope() *AuthError {
	if s.date != s.amzDate.Format(scopeDateFormat) {
		return &AuthError{FailSignature, fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			s.date, s.amzDate.Format(scopeDateFormat), s.amzDate.Format(amzDateFormat))}
	}
	if !slices.Contains(s.signedHeaders, "host") {
		return &AuthError{FailIncomplete, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."}
	}
	return nil
}

// requestDate is the X-Amz-Date header, else the Date header.
func requestDate(r *http.Request) (time.Time, *AuthError) {
	if d := r.Header.Get("X-Amz-Date"); d != "" {
		t, err := time.Parse(amzDateFormat, d)
		if err != nil {
			return time.Time{}, &AuthError{FailIncomplete, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""}
		}
		return t, nil
	}
	if d := r.Header.Get("Date"); d != "" {
		t, err := http.ParseTime(d)
		if err != nil {
			return time.Time{}, &AuthError{FailIncomplete, "Date must be an HTTP date"}
		}
		return t.UTC(), nil
	}
	return time.Time{}, &AuthError{FailIncomplete, fmt.Sprintf("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=%s", sigAlgorithm)}
}

// payloadHash is the canonical request's last line: the body's SHA-256, or
// UNSIGNED-PAYLOAD when X-Amz-Content-Sha256 says so (always for a presigned
// request without that header).
func payloadHash(r *http.Request, body []byte, presigned bool) (string, *AuthError) {
	sum := sha256.Sum256(body)
	computed := hex.EncodeToString(sum[:])
	h := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case h == unsignedPayload, h == "" && presigned:
		return unsignedPayload, nil
	case h == "", h == computed:
		return computed, nil
	}
	return "", &AuthError{FailSignature, "The provided 'x-amz-content-sha256' header does not match what was computed."}
}

// canonicalRequest builds the SigV4 canonical request of r.
func canonicalRequest(r *http.Request, s *signature, payload string) (string, *AuthError) {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r.URL))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery, s.presigned))
	b.WriteByte('\n')
	for _, name := range s.signedHeaders {
		if name == "" || name != strings.ToLower(name) {
			return "", &AuthError{FailIncomplete, "SignedHeaders must be lower-case header names separated by ';'."}
		}
		vals, ok := headerValues(r, name)
		if !ok {
			return "", &AuthError{FailSignature, msgBadSignature}
		}
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strings.Join(strings.Fields(v), " "))
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(s.signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.String(), nil
}

// headerValues are a signed header's values as the client sent them: Go's
// server moves Host out of the header map.
func headerValues(r *http.Request, name string) ([]string, bool) {
	switch name {
	case "host":
		return []string{r.Host}, r.Host != ""
	case "content-length":
		if v := r.Header.Values("Content-Length"); len(v) > 0 {
			return v, true
		}
		if r.ContentLength >= 0 {
			return []string{strconv.FormatInt(r.ContentLength, 10)}, true
		}
		return nil, false
	}
	v := r.Header.Values(name)
	return v, len(v) > 0
}

// canonicalURI is the path as sent, URI-encoded once more (every service
// but S3 signs the doubly encoded path), "/" when empty.
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	return uriEncode(p, false)
}

// canonicalQuery sorts the query's parameters by name and value, each
// URI-encoded; a presigned request's X-Amz-Signature is left out.
func canonicalQuery(raw string, presigned bool) string {
	type kv struct{ k, v string }
	var params []kv
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, kerr := url.QueryUnescape(k)
		v, verr := url.QueryUnescape(v)
		if kerr != nil || verr != nil {
			continue // a client cannot have signed what it could not have encoded
		}
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		params = append(params, kv{uriEncode(k, true), uriEncode(v, true)})
	}
	slices.SortFunc(params, func(a, b kv) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// uriEncode percent-encodes every byte but the unreserved ones (A-Z a-z
// 0-9 - . _ ~), and '/' unless encodeSlash, with upper-case hex.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		case c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

func computeSignature(secret string, s *signature, canon string) string {
	scope := strings.Join([]string{s.date, s.region, s.service, "aws4_request"}, "/")
	sum := sha256.Sum256([]byte(canon))
	toSign := sigAlgorithm + "\n" + s.amzDate.Format(amzDateFormat) + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	k := hmacSHA256([]byte("AWS4"+secret), s.date)
	k = hmacSHA256(k, s.region)
	k = hmacSHA256(k, s.service)
	k = hmacSHA256(k, "aws4_request")
	return hex.EncodeToString(hmacSHA256(k, toSign))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
