// Package ingests is the ingests API: POST /ingests and GET /ingests/{id}.
package ingests

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/portway/portway/internal/storage/api"
	"github.com/portway/portway/internal/storage/model"
)

// Store is what the ingests API needs from the store. Errors wrap
// model.ErrNotFound for unknown ids.
type Store interface {
	CreateIngest(ctx context.Context, in model.Ingest) error
	GetIngest(ctx context.Context, id uuid.UUID) (model.Ingest, error)
}

// DefaultMaxBodyBytes bounds a POST /ingests body.
const DefaultMaxBodyBytes = 1 << 20

// Config configures the handler.
type Config struct {
	Store        Store
	Logger       *slog.Logger     // nil: discard
	Now          func() time.Time // nil: time.Now
	NewID        func() uuid.UUID // nil: uuid.New (random, v4)
	MaxBodyBytes int64            // <= 0: DefaultMaxBodyBytes
	// OnCreate, if set, is called after an ingest is stored (the app
	// wakes its worker with it).
	OnCreate func(id uuid.UUID)
}

// Handler serves /ingests and everything under it.
type Handler struct {
	cfg Config
	h   http.Handler
}

// NewHandler builds the ingests API.
func NewHandler(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("ingests: store must not be nil")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = uuid.New
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	h := &Handler{cfg: cfg}
	h.h = api.Handle(cfg.Logger, h.route)
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.h.ServeHTTP(w, r) }

// route mirrors the real service's routes: POST on /ingests, GET on
// /ingests/{uuid}; any other path under /ingests only supports POST, so a
// GET of /ingests/doesnotexist is a 405, not a 404.
func (h *Handler) route(w http.ResponseWriter, r *http.Request) error {
	p := r.URL.EscapedPath()
	rest, ok := strings.CutPrefix(p, "/ingests")
	if !ok || (rest != "" && rest[0] != '/') {
		return api.ResourceNotFound()
	}
	if rest == "" || rest == "/" {
		if r.Method != http.MethodPost {
			return api.MethodNotAllowed(http.MethodPost)
		}
		return h.create(w, r)
	}
	seg := rest[1:]
	id, isID := parseUUID(seg)
	if !isID {
		return api.MethodNotAllowed(http.MethodPost)
	}
	if !api.IsGet(r) {
		return api.MethodNotAllowed(http.MethodGet)
	}
	return h.get(w, r, id)
}

// parseUUID accepts only the canonical 36-character form (any case), as
// the real service's JavaUUID path matcher does.
func parseUUID(s string) (uuid.UUID, bool) {
	if len(s) != 36 {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(s)
	return id, err == nil
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) error {
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err // api.Handle makes it a 413
		}
		return &api.Error{Status: http.StatusBadRequest, Description: "The request content could not be read.", Cause: err}
	}
	req, err := DecodeRequest(body)
	if err != nil {
		return err
	}
	now := model.Timestamp(h.cfg.Now())
	in := model.Ingest{
		ID:                 h.cfg.NewID(),
		Type:               req.Type,
		Space:              req.Space,
		ExternalIdentifier: req.ExternalIdentifier,
		SourceLocation:     req.SourceLocation,
		Status:             model.IngestAccepted,
		Events:             []model.Event{},
		CreatedDate:        now,
		LastModifiedDate:   now,
	}
	if req.CallbackURL != "" {
		in.Callback = &model.Callback{URL: req.CallbackURL, Status: model.CallbackPending}
	}
	if err := h.cfg.Store.CreateIngest(r.Context(), in); err != nil {
		return fmt.Errorf("create ingest: %w", err)
	}
	if h.cfg.OnCreate != nil {
		h.cfg.OnCreate(in.ID)
	}
	h.cfg.Logger.Info("ingest created", "ingest_id", in.ID.String(), "space", in.Space,
		"external_identifier", in.ExternalIdentifier, "ingest_type", string(in.Type))
	w.Header().Set("Location", api.PublicBaseURL(r)+"/ingests/"+in.ID.String())
	return api.WriteJSON(w, http.StatusCreated, newDisplayIngest(in))
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, id uuid.UUID) error {
	in, err := h.cfg.Store.GetIngest(r.Context(), id)
	if errors.Is(err, model.ErrNotFound) {
		return api.NotFound(fmt.Sprintf("Ingest %s not found", id))
	}
	if err != nil {
		return fmt.Errorf("get ingest %s: %w", id, err)
	}
	return api.WriteJSON(w, http.StatusOK, newDisplayIngest(in))
}

// checkContentType accepts application/json with no charset or UTF-8.
func checkContentType(ct string) error {
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && mt == "application/json" {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			return nil
		}
	}
	shown := ct
	if r := []rune(shown); len(r) > 100 {
		shown = string(r[:100]) + "…"
	}
	return &api.Error{
		Status:      http.StatusUnsupportedMediaType,
		Description: fmt.Sprintf("The request's Content-Type [%s] is not supported. Expected:\napplication/json", shown),
	}
}
