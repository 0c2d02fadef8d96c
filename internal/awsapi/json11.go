package awsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// JSONContentType is the AWS JSON 1.1 protocol's media type.
const JSONContentType = "application/x-amz-json-1.1"

// Error is an AWS error: its code (the JSON protocol's __type), message
// and HTTP status. Operations return it; JSONService writes it.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf makes a 400 Error.
func Errorf(code, format string, args ...any) *Error {
	return &Error{http.StatusBadRequest, code, fmt.Sprintf(format, args...)}
}

// Operation is one JSON 1.1 operation: it decodes its input from body
// (with DecodeInput) and returns its output, to be encoded as JSON, or an
// error (an *Error is written as it is, any other as the service's
// internal error).
type Operation func(ctx context.Context, body []byte) (any, error)

// JSONService serves an AWS JSON 1.1 API: POST / with X-Amz-Target
// "<TargetPrefix><Operation>".
type JSONService struct {
	// TargetPrefix is X-Amz-Target's prefix, with its dot.
	TargetPrefix string
	Operations   map[string]Operation
	// InternalError is the code of a 500 (ECS: ServerException; Cognito:
	// InternalErrorException).
	InternalError string
	Logger        *slog.Logger
}

var _ Service = (*JSONService)(nil)

// ServeHTTP dispatches on X-Amz-Target.
func (s *JSONService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := uuid.NewString()
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, s.TargetPrefix)
	fn := s.Operations[op]
	switch {
	case r.Method != http.MethodPost:
		s.writeError(w, reqID, &Error{http.StatusMethodNotAllowed, "UnknownOperationException", "AWS JSON 1.1 calls are POST requests"})
		return
	case !ok || fn == nil:
		s.writeError(w, reqID, Errorf("UnknownOperationException", "unknown operation %q; portway serves %s", target, s.opNames()))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || (mt != JSONContentType && mt != "application/json") {
		s.writeError(w, reqID, Errorf("SerializationException", "Content-Type must be %s", JSONContentType))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.writeError(w, reqID, Errorf("SerializationException", "cannot read the request body"))
		return
	}
	out, err := fn(r.Context(), body)
	if err != nil {
		var ae *Error
		if !errors.As(err, &ae) {
			s.log().Error("aws api: operation failed", "operation", op, "err", err)
			ae = &Error{http.StatusInternalServerError, s.InternalError, err.Error()}
		}
		s.writeError(w, reqID, ae)
		return
	}
	data, err := json.Marshal(out)
	if err != nil {
		s.log().Error("aws api: encode output", "operation", op, "err", err)
		s.writeError(w, reqID, &Error{http.StatusInternalServerError, s.InternalError, "cannot encode the response"})
		return
	}
	s.header(w, reqID)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// WriteAuthError implements Service.
func (s *JSONService) WriteAuthError(w http.ResponseWriter, _ *http.Request, status int, code, message string) {
	s.writeError(w, uuid.NewString(), &Error{status, code, message})
}

func (s *JSONService) opNames() string {
	names := make([]string, 0, len(s.Operations))
	for n := range s.Operations {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func (s *JSONService) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *JSONService) header(w http.ResponseWriter, reqID string) {
	h := w.Header()
	h.Set("Content-Type", JSONContentType)
	h.Set("x-amzn-RequestId", reqID)
	h.Set("Cache-Control", "no-store")
}

func (s *JSONService) writeError(w http.ResponseWriter, reqID string, e *Error) {
	s.header(w, reqID)
	w.Header().Set("x-amzn-ErrorType", e.Code)
	w.WriteHeader(e.Status)
	data, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Code, e.Message})
	_, _ = w.Write(data)
}

// DecodeInput decodes an operation's JSON input into v, strictly: a body
// that is not one JSON object is a SerializationException; a member v does
// not have, or a value of the wrong type, is a validationCode error naming
// the member (portway refuses what it would otherwise ignore).
func DecodeInput(body []byte, v any, validationCode string) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			return Errorf(validationCode, "%s: must be a %s, not a JSON %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
			return Errorf("SerializationException", "the body is not valid JSON: %v", err)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.TrimPrefix(err.Error(), "json: unknown field ")
			return Errorf(validationCode, "%s: not a member portway supports for this operation", strings.Trim(f, `"`))
		}
		return Errorf("SerializationException", "cannot decode the body: %v", err)
	}
	if dec.More() {
		return Errorf("SerializationException", "the body holds more than one JSON value")
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "int", "int32", "int64":
		return "integer"
	case "slice":
		return "list"
	case "struct", "map", "ptr":
		return "structure"
	}
	return k
}

// Epoch is a time as the JSON protocols write timestamps: seconds since
// the epoch, with milliseconds.
type Epoch time.Time

// MarshalJSON writes seconds with up to three decimals.
func (t Epoch) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(fmt.Sprintf("%.3f", float64(ms)/1000)), nil
}

// UnmarshalJSON reads seconds since the epoch.
func (t *Epoch) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("timestamp: must be seconds since the epoch")
	}
	sec, frac := math.Modf(f)
	*t = Epoch(time.Unix(int64(sec), int64(frac*1e9)).UTC())
	return nil
}

// EpochPtr is the Epoch of *t, nil for nil.
func EpochPtr(t *time.Time) *Epoch {
	if t == nil || t.IsZero() {
		return nil
	}
	e := Epoch(*t)
	return &e
}

// Page returns one page of a list: at most limit items (1..maxLimit;
// nil: maxLimit) from the position nextToken names (the token of the
// previous page, "" for the first), and the token of the next page (nil at
// the end). A bad limit or token is a validationCode error naming the
// member.
func Page[T any](items []T, limit *int, maxLimit int, nextToken, limitMember, tokenMember, validationCode string) ([]T, *string, error) {
	n := maxLimit
	if limit != nil {
		if *limit < 1 || *limit > maxLimit {
			return nil, nil, Errorf(validationCode, "%s: must be between 1 and %d", limitMember, maxLimit)
		}
		n = *limit
	}
	start := 0
	if nextToken != "" {
		i, err := strconv.Atoi(nextToken)
		if err != nil || i < 0 || i > len(items) {
			return nil, nil, Errorf(validationCode, "%s: not a token this API returned", tokenMember)
		}
		start = i
	}
	end := min(start+n, len(items))
	var next *string
	if end < len(items) {
		s := strconv.Itoa(end)
		next = &s
	}
	return items[start:end], next, nil
}
