// Package bags is the bags API: GET /bags/{space}/{externalIdentifier}
// (latest or ?version=vN) and GET …/versions[?before=vN].
package bags

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/portway/portway/internal/storage/api"
	"github.com/portway/portway/internal/storage/model"
)

// Store is what the bags API needs from the store. Lookups of missing
// bags wrap model.ErrNotFound; ListVersions returns an empty list.
type Store interface {
	LatestStorageManifest(ctx context.Context, space, externalIdentifier string) (model.StorageManifest, error)
	StorageManifestVersion(ctx context.Context, space, externalIdentifier string, v model.BagVersion) (model.StorageManifest, error)
	ListVersions(ctx context.Context, space, externalIdentifier string, before model.BagVersion) ([]model.VersionSummary, error)
}

// Config configures the handler.
type Config struct {
	Store  Store
	Logger *slog.Logger // nil: discard
}

// Handler serves /bags/….
type Handler struct {
	store Store
	h     http.Handler
}

// NewHandler builds the bags API.
func NewHandler(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("bags: store must not be nil")
	}
	h := &Handler{store: cfg.Store}
	h.h = api.Handle(cfg.Logger, h.route)
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.h.ServeHTTP(w, r) }

// bagPath is a parsed /bags/… path.
type bagPath struct {
	space, externalIdentifier string
	versions                  bool
}

// parsePath splits /bags/{space}/{externalIdentifier}[/versions]. It works
// on the escaped path and unescapes each segment, so an identifier's
// slashes may come encoded (%2F) or not. Since an external identifier may
// not end with "/versions", a final literal "versions" segment after at
// least one identifier segment always means the versions list.
func parsePath(escaped string) (bagPath, bool) {
	rest, ok := strings.CutPrefix(escaped, "/bags/")
	if !ok {
		return bagPath{}, false
	}
	raw := strings.Split(rest, "/")
	if len(raw) < 2 {
		return bagPath{}, false
	}
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil {
			return bagPath{}, false
		}
		segs[i] = u
	}
	p := bagPath{space: segs[0]}
	ids := segs[1:]
	if len(ids) >= 2 && raw[len(raw)-1] == "versions" {
		p.versions = true
		ids = ids[:len(ids)-1]
	}
	p.externalIdentifier = strings.Join(ids, "/")
	if p.space == "" || p.externalIdentifier == "" {
		return bagPath{}, false
	}
	return p, true
}

func (h *Handler) route(w http.ResponseWriter, r *http.Request) error {
	p, ok := parsePath(r.URL.EscapedPath())
	if !ok {
		return api.ResourceNotFound()
	}
	if !api.IsGet(r) {
		return api.MethodNotAllowed(http.MethodGet)
	}
	if p.versions {
		return h.versions(w, r, p)
	}
	return h.bag(w, r, p)
}

// bag answers with one storage manifest. As in the real service, a
// version parameter that is not vN finds nothing: 404 naming it.
func (h *Handler) bag(w http.ResponseWriter, r *http.Request, p bagPath) error {
	id := model.BagID(p.space, p.externalIdentifier)
	q := r.URL.Query()
	var (
		m   model.StorageManifest
		err error
	)
	if q.Has("version") {
		vs := q.Get("version")
		v, perr := model.ParseBagVersion(vs)
		if perr != nil {
			return api.NotFound(fmt.Sprintf("Storage manifest %s version %s not found", id, vs))
		}
		m, err = h.store.StorageManifestVersion(r.Context(), p.space, p.externalIdentifier, v)
		if errors.Is(err, model.ErrNotFound) {
			return api.NotFound(fmt.Sprintf("Storage manifest %s version %s not found", id, vs))
		}
	} else {
		m, err = h.store.LatestStorageManifest(r.Context(), p.space, p.externalIdentifier)
		if errors.Is(err, model.ErrNotFound) {
			return api.NotFound(fmt.Sprintf("Storage manifest %s not found", id))
		}
	}
	if err != nil {
		return fmt.Errorf("look up %s: %w", id, err)
	}
	w.Header().Set("ETag", `"`+id+"/"+m.Version.String()+`"`)
	return api.WriteJSON(w, http.StatusOK, newDisplayBag(m))
}

// versions answers with the bag's versions, newest first.
func (h *Handler) versions(w http.ResponseWriter, r *http.Request, p bagPath) error {
	id := model.BagID(p.space, p.externalIdentifier)
	q := r.URL.Query()
	var before model.BagVersion
	notFound := "No storage manifest versions found for " + id
	if q.Has("before") {
		bs := q.Get("before")
		v, err := model.ParseBagVersion(bs)
		if err != nil {
			return api.BadRequest("Cannot parse version string: " + bs)
		}
		before = v
		notFound += " before " + v.String()
		if v == 0 { // nothing is older than v0
			return api.NotFound(notFound)
		}
	}
	list, err := h.store.ListVersions(r.Context(), p.space, p.externalIdentifier, before)
	if err != nil {
		return fmt.Errorf("list versions of %s: %w", id, err)
	}
	if len(list) == 0 {
		return api.NotFound(notFound)
	}
	return api.WriteJSON(w, http.StatusOK, newResultList(list))
}
