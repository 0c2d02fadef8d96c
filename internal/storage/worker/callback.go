package worker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/portway/portway/internal/storage/ingests"
	"github.com/portway/portway/internal/storage/model"
)

// callback POSTs the final ingest to its callback URL, retrying with
// doubling waits, and records how that went.
func (w *Worker) callback(ctx context.Context, in model.Ingest, log *slog.Logger) error {
	body, err := ingests.MarshalIngest(in)
	if err != nil {
		return fmt.Errorf("callback: %w", err)
	}
	status := model.CallbackFailed
	wait := w.cfg.CallbackBackoff
	for try := 1; try <= w.cfg.CallbackTries; try++ {
		err := w.post(ctx, in.Callback.URL, body)
		if err == nil {
			status = model.CallbackSucceeded
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Warn("callback failed", "try", try, "of", w.cfg.CallbackTries, "err", err)
		if try == w.cfg.CallbackTries {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, maxCallbackBackoff)
	}
	_, err = w.cfg.Store.UpdateLeasedIngest(ctx, in.ID, w.cfg.Owner, func(i *model.Ingest) error {
		if i.Callback != nil {
			i.Callback.Status = status
		}
		i.LastModifiedDate = model.Timestamp(w.cfg.Now())
		return nil
	})
	if err == nil {
		log.Info("callback done", "status", string(status))
	}
	return err
}

func (w *Worker) post(ctx context.Context, url string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.CallbackTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "portway-ingests")
	res, err := w.cfg.CallbackClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("callback answered %s", res.Status)
	}
	return nil
}
