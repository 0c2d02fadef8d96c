package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/portway/portway/internal/storage/bagit"
	"github.com/portway/portway/internal/storage/model"
	"github.com/portway/portway/internal/storage/store"
)

// Step names, for the test hook and logs.
const (
	stepUnpack   = "unpack"
	stepVerify   = "verify"
	stepAssign   = "assign"
	stepCopy     = "copy"
	stepRegister = "register"
)

// stepFailed ends an ingest as failed with its event.
type stepFailed struct{ event string }

func (e *stepFailed) Error() string { return e.event }

// ingest runs the pipeline and returns the final ingest. Bag problems end
// it failed (a nil error); a lost lease or cancellation returns an error
// and leaves it to whoever holds the lease next.
func (w *Worker) ingest(ctx context.Context, in model.Ingest, log *slog.Logger) (model.Ingest, error) {
	final, err := w.runSteps(ctx, in, log)
	var sf *stepFailed
	if errors.As(err, &sf) {
		log.Info("ingest failed", "event", sf.event)
		return w.record(ctx, in, sf.event, model.IngestFailed)
	}
	if err != nil {
		return in, err
	}
	log.Info("ingest succeeded", "version", final.Version.String())
	return final, nil
}

func (w *Worker) step(ctx context.Context, in model.Ingest, name string) error {
	if w.stepHook != nil {
		w.stepHook(ctx, in.ID, name)
	}
	return ctx.Err()
}

// record appends an event (and sets the status, if given) under the lease.
func (w *Worker) record(ctx context.Context, in model.Ingest, event string, status model.IngestStatus) (model.Ingest, error) {
	return w.cfg.Store.UpdateLeasedIngest(ctx, in.ID, w.cfg.Owner, func(i *model.Ingest) error {
		now := model.Timestamp(w.cfg.Now())
		i.Events = append(i.Events, model.Event{CreatedDate: now, Description: event})
		i.LastModifiedDate = now
		if status != "" {
			i.Status = status
		}
		return nil
	})
}

// machineFailure fails a step for a reason that is not the bag's: the
// cause is logged, the event says only that the step failed.
func machineFailure(log *slog.Logger, ctx context.Context, step string, err error) error {
	if ctx.Err() != nil || errors.Is(err, store.ErrLeaseLost) {
		return err
	}
	log.Error(step+" failed", "err", err)
	return &stepFailed{step + " failed - internal error"}
}

func (w *Worker) runSteps(ctx context.Context, in model.Ingest, log *slog.Logger) (model.Ingest, error) {
	var err error
	bagID := model.BagID(in.Space, in.ExternalIdentifier)

	// Unpack.
	if err := w.step(ctx, in, stepUnpack); err != nil {
		return in, err
	}
	if in, err = w.record(ctx, in, "Unpacking started", model.IngestProcessing); err != nil {
		return in, err
	}
	work, err := os.MkdirTemp(w.cfg.WorkDir, scratchPrefix(in.ID, w.cfg.Owner)+"-")
	if err != nil {
		return in, machineFailure(log, ctx, "Unpacking", err)
	}
	defer os.RemoveAll(work)
	src := path.Join(in.SourceLocation.Bucket, in.SourceLocation.Path)
	f, err := w.openSource(in.SourceLocation)
	if err != nil {
		log.Info("source not found", "source", src, "err", err)
		return in, &stepFailed{"Unpacking failed - there is no archive at " + src}
	}
	_, err = bagit.Unpack(ctx, f, work, w.cfg.Limits)
	f.Close()
	var bf *bagit.Failure
	if errors.As(err, &bf) {
		return in, &stepFailed{"Unpacking failed - " + bf.Msg}
	}
	if err != nil {
		return in, machineFailure(log, ctx, "Unpacking", err)
	}
	if in, err = w.record(ctx, in, "Unpacking succeeded", ""); err != nil {
		return in, err
	}

	// Verify.
	if err := w.step(ctx, in, stepVerify); err != nil {
		return in, err
	}
	if in, err = w.record(ctx, in, "Verification started", ""); err != nil {
		return in, err
	}
	bag, err := bagit.Verify(work, in.ExternalIdentifier)
	if errors.As(err, &bf) {
		return in, &stepFailed{"Verification failed - " + bf.Msg}
	}
	if err != nil {
		return in, machineFailure(log, ctx, "Verification", err)
	}
	if in, err = w.record(ctx, in, "Verification succeeded", ""); err != nil {
		return in, err
	}

	// Assign the version.
	if err := w.step(ctx, in, stepAssign); err != nil {
		return in, err
	}
	v, err := w.cfg.Store.AssignVersion(ctx, in.ID, w.cfg.Owner, model.Timestamp(w.cfg.Now()))
	switch {
	case errors.Is(err, store.ErrBagExists):
		return in, &stepFailed{fmt.Sprintf("Assigning bag version failed - bag %s already exists; use an update ingest to add a version", bagID)}
	case errors.Is(err, store.ErrBagMissing):
		return in, &stepFailed{fmt.Sprintf("Assigning bag version failed - bag %s does not exist; use a create ingest for a new bag", bagID)}
	case err != nil:
		return in, machineFailure(log, ctx, "Assigning bag version", err)
	}
	if in, err = w.record(ctx, in, "Assigning bag version succeeded - assigned "+v.String(), ""); err != nil {
		return in, err
	}

	// Copy to storage.
	if err := w.step(ctx, in, stepCopy); err != nil {
		return in, err
	}
	rel, ok := storagePath(in.Space, in.ExternalIdentifier)
	if !ok {
		return in, &stepFailed{fmt.Sprintf("Copying to storage failed - %s cannot be stored as a path", bagID)}
	}
	if err := w.copyToStorage(bag.Root, rel, v, scratchPrefix(in.ID, w.cfg.Owner)); err != nil {
		return in, machineFailure(log, ctx, "Copying to storage", err)
	}
	if in, err = w.record(ctx, in, "Copying to storage succeeded", ""); err != nil {
		return in, err
	}

	// Register.
	if err := w.step(ctx, in, stepRegister); err != nil {
		return in, err
	}
	m := model.StorageManifest{
		Space: in.Space, ExternalIdentifier: in.ExternalIdentifier, Version: v,
		CreatedDate: model.Timestamp(w.cfg.Now()), IngestID: in.ID,
		Info: bag.Info, Manifest: withPaths(bag.Manifest, v), TagManifest: withPaths(bag.TagManifest, v),
		Location:         model.Location{Provider: model.ProviderAmazonS3, Bucket: StorageBucket, Path: rel},
		ReplicaLocations: []model.Location{},
	}
	final, err := w.cfg.Store.RegisterBag(ctx, w.cfg.Owner, m, func(i *model.Ingest) error {
		now := model.Timestamp(w.cfg.Now())
		i.Events = append(i.Events, model.Event{CreatedDate: now, Description: "Registering bag succeeded - stored " + bagID + " " + v.String()})
		i.LastModifiedDate = now
		i.Status = model.IngestSucceeded
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		return in, &stepFailed{fmt.Sprintf("Registering bag failed - %s %s is already stored", bagID, v)}
	}
	if err != nil {
		return in, machineFailure(log, ctx, "Registering bag", err)
	}
	return final, nil
}

// openSource opens <BucketsDir>/{bucket}/{path} without following any
// path out of the buckets directory.
func (w *Worker) openSource(loc model.Location) (*os.File, error) {
	root, err := os.OpenRoot(w.cfg.BucketsDir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	name := filepath.Join(loc.Bucket, filepath.FromSlash(loc.Path))
	if loc.Bucket == "" || strings.Contains(loc.Bucket, "/") || !filepath.IsLocal(name) {
		return nil, fs.ErrNotExist
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fs.ErrNotExist
	}
	return f, nil
}

// storagePath is {space}/{externalIdentifier} as a relative path, if it is
// one: an identifier such as "a/../b" is valid in the API but not a path
// to store at.
func storagePath(space, ext string) (string, bool) {
	p := space + "/" + ext
	for _, el := range strings.Split(p, "/") {
		if el == "" || el == "." || el == ".." {
			return "", false
		}
	}
	return p, filepath.IsLocal(filepath.FromSlash(p))
}

func withPaths(m model.FileManifest, v model.BagVersion) model.FileManifest {
	out := model.FileManifest{ChecksumAlgorithm: m.ChecksumAlgorithm, Files: make([]model.File, len(m.Files))}
	for i, f := range m.Files {
		f.Path = v.String() + "/" + f.Name
		out.Files[i] = f
	}
	return out
}

// copyToStorage copies the bag into <StorageDir>/<rel>/v{N}: first into a
// staging directory, then renamed into place, all through an os.Root on
// the storage directory. A v{N} directory already there has no manifest
// (the version was assigned to this ingest), so it is an earlier attempt's
// leftover and is replaced.
func (w *Worker) copyToStorage(bagRoot, rel string, v model.BagVersion, tag string) error {
	root, err := os.OpenRoot(w.cfg.StorageDir)
	if err != nil {
		return err
	}
	defer root.Close()
	staging := filepath.Join(stagingDir, tag)
	if err := root.RemoveAll(staging); err != nil {
		return err
	}
	if err := root.MkdirAll(staging, 0o750); err != nil {
		return err
	}
	defer root.RemoveAll(staging)
	err = filepath.WalkDir(bagRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(bagRoot, p)
		dst := filepath.Join(staging, r)
		if d.IsDir() {
			return root.MkdirAll(dst, 0o750)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", r)
		}
		return copyFile(root, p, dst)
	})
	if err != nil {
		return err
	}
	final := filepath.Join(filepath.FromSlash(rel), v.String())
	if err := root.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		return err
	}
	if err := root.RemoveAll(final); err != nil {
		return err
	}
	return root.Rename(staging, final)
}

func copyFile(root *os.Root, src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := root.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
