package console

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// MaxLogBytes bounds a log tail.
const MaxLogBytes = 64 << 10

// serveLogs answers the last MaxLogBytes of a task container's log as
// text. The task must be one the supervisor knows and the container one of
// its containers: the path is built from those names, never from the
// request's.
func (c *Console) serveLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	taskID, container := q.Get("task"), q.Get("container")
	var names []string
	found := false
	for _, t := range c.cfg.Services.Tasks() {
		if t.TaskID == taskID {
			found = true
			for _, ct := range t.Containers {
				names = append(names, ct.Name)
			}
			break
		}
	}
	if !found {
		writeError(w, http.StatusNotFound, fmt.Sprintf("task: no task %q", taskID))
		return
	}
	if container == "" && len(names) > 0 {
		container = names[0]
	}
	if !slices.Contains(names, container) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("container: task %s has no container %q (it has %s)", taskID, container, strings.Join(names, ", ")))
		return
	}
	if c.cfg.StateDir == "" {
		writeError(w, http.StatusNotFound, "no task logs kept")
		return
	}
	path := filepath.Join(c.cfg.StateDir, "tasks", filepath.Base(taskID), filepath.Base(container)+".log")
	b, truncated, err := tail(path, MaxLogBytes)
	if errors.Is(err, os.ErrNotExist) {
		b, err = nil, nil
	}
	if err != nil {
		c.cfg.Logger.Warn("console: read task log", "task", taskID, "container", container, "err", err)
		writeError(w, http.StatusInternalServerError, "cannot read the log")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if truncated {
		h.Set("X-Log-Truncated", "true")
	}
	_, _ = w.Write(b)
}

// tail reads the last max bytes of the file at path, from the start of a
// line when it had to cut.
func tail(path string, max int64) ([]byte, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	off := fi.Size() - max
	cut := off > 0
	if !cut {
		off = 0
	}
	b, err := io.ReadAll(io.NewSectionReader(f, off, max))
	if err != nil {
		return nil, false, err
	}
	if cut {
		if i := strings.IndexByte(string(b), '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return b, cut, nil
}
