package worker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/portway/portway/internal/egress"
	"github.com/portway/portway/internal/storage/ingests"
	"github.com/portway/portway/internal/storage/model"
)

// maxCallbackResponse is how much of a callback's response body is read
// (and discarded) before the connection is closed.
const maxCallbackResponse = 64 << 10

// callback POSTs the final ingest to its callback URL, retrying with
// doubling waits, and records how that went. An address the policy
// refuses gets no connection and no retry: the callback fails at once,
// with an event that says why. Any other failure reads the same whatever
// its cause (connection refused, timeout, an error status), so that the
// callback status tells the client no more about an address than whether
// it took the callback.
func (w *Worker) callback(ctx context.Context, in model.Ingest, log *slog.Logger) error {
	body, err := ingests.MarshalIngest(in)
	if err != nil {
		return fmt.Errorf("callback: %w", err)
	}
	status := model.CallbackFailed
	event := ""
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
		if re, ok := egress.Refused(err); ok {
			log.Info("callback refused", "err", err)
			event = "Callback refused - " + refusal(re)
			break
		}
		log.Warn("callback failed", "try", try, "of", w.cfg.CallbackTries, "err", err)
		if try == w.cfg.CallbackTries {
			event = fmt.Sprintf("Callback failed - not delivered in %d tries", try)
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
		now := model.Timestamp(w.cfg.Now())
		if event != "" {
			i.Events = append(i.Events, model.Event{CreatedDate: now, Description: event})
		}
		i.LastModifiedDate = now
		return nil
	})
	if err == nil {
		log.Info("callback done", "status", string(status))
	}
	return err
}

// refusal says in plain words why the policy refused an address.
func refusal(re *egress.RefusedError) string {
	switch re.Reason {
	case egress.Denied:
		return fmt.Sprintf("%s is an address of this stack", re.Addr)
	case egress.NotAllowed:
		return fmt.Sprintf("%s is a %s address not in storage.callbacks.allow", re.Addr, re.Range)
	default:
		return re.Error()
	}
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
	res, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxCallbackResponse))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("callback answered %s", res.Status)
	}
	return nil
}
