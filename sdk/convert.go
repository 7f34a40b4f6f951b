package sdk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ConvertRequest describes a ConvertFiles run.
type ConvertRequest struct {
	Files   []string       // local files to convert, each on its own
	To      string         // output format: "png", "pdf", ...
	Options map[string]any // more fields of each convert task (engine, pages, quality, ...)
	OutDir  string         // where results go ("" = current directory)
	Tag     string         // job tag ("" = "cctoolkit-convert")
	// Merge combines the files into one PDF (one merge task) instead of
	// converting each; To must then be "pdf" or empty.
	Merge bool
	// Parallel bounds the uploads, and the downloads, at once; default
	// DefaultParallel.
	Parallel int
	// Overwrite replaces existing files in OutDir; otherwise a free name
	// "a-1.png" is chosen.
	Overwrite bool
	// Progress receives every step, from one goroutine at a time; nil for
	// none.
	Progress func(ConvertEvent)
	// Wait tunes the wait for the job (its Progress is set by ConvertFiles).
	Wait WaitOptions
}

// ConvertPhase names a step of ConvertFiles.
type ConvertPhase string

// The phases, in order.
const (
	PhaseCreate   ConvertPhase = "create"   // the job was created
	PhaseUpload   ConvertPhase = "upload"   // bytes of File were uploaded
	PhaseConvert  ConvertPhase = "convert"  // the job progressed
	PhaseDownload ConvertPhase = "download" // bytes of File were downloaded
	PhaseDone     ConvertPhase = "done"     // all written
)

// ConvertEvent is one progress report of ConvertFiles. A CLI prints it as
// a line, or moves a bar with Batch and Job.Percent.
type ConvertEvent struct {
	Phase       ConvertPhase
	JobID       string
	File        string    // the local file (upload) or the saved name (download)
	Done, Total int64     // bytes of File, for upload and download (Total -1 if unknown)
	Job         *Progress // for convert
	// Batch is the whole phase so far, for upload and download.
	Batch *Batch
}

// Batch is the progress of all the files of a phase.
type Batch struct {
	Files, Of   int   // files complete, of how many
	Done, Total int64 // bytes so far, of the bytes known (-1 while unknown)
}

// ConvertResult is what ConvertFiles produced.
type ConvertResult struct {
	Job   *Job
	Files []string // paths written, in OutDir
	// Resumable is set once every file was uploaded: from then on the job
	// runs without this process, and `wait` on the job (or WaitJob and
	// DownloadJob with SkipExisting) finishes what an interruption left.
	Resumable bool
	// Deleted is set when an upload failed (or was interrupted) and the
	// job, which could never run, was deleted.
	Deleted bool
}

// ConvertFiles runs upload -> convert -> export -> download in one job:
// an import/upload and a convert task per file (or one merge task for
// all), and one export/url; it uploads the files (streamed, Parallel at
// once), waits for the job (sync endpoint, else polling), and downloads the
// results into OutDir (Parallel at once, each complete or not at all, never
// over an existing file unless Overwrite). A failed job returns the job and
// an error matching ErrJobFailed that names the failed tasks. Arguments are
// checked before any request (missing file, no format). When an upload
// fails or ctx ends before every file is uploaded, the job is deleted.
func ConvertFiles(ctx context.Context, c *Client, req ConvertRequest) (*ConvertResult, error) {
	to := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(req.To)), ".")
	if req.Merge && to == "" {
		to = "pdf"
	}
	switch {
	case to == "":
		return nil, errors.New("convert: no output format (--to)")
	case req.Merge && to != "pdf":
		return nil, fmt.Errorf("convert: merge makes one PDF; the output format must be pdf, not %s", to)
	case len(req.Files) == 0:
		return nil, errors.New("convert: no input files")
	}
	sizes := make([]int64, len(req.Files))
	var total int64
	for i, f := range req.Files {
		st, err := os.Stat(f)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("convert: %s: no such file", f)
			}
			return nil, fmt.Errorf("convert: %w", err)
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("convert: %s is not a regular file", f)
		}
		sizes[i] = st.Size()
		total += st.Size()
	}
	var mu sync.Mutex
	emit := func(e ConvertEvent) {
		if req.Progress != nil {
			mu.Lock()
			defer mu.Unlock()
			req.Progress(e)
		}
	}
	op := "convert"
	if req.Merge {
		op = "merge" // each file is an input of the one merge task
	}
	if err := c.checkConvert(ctx, op, req.Files, convertFields(req.Options, to)); err != nil {
		return nil, err
	}
	tasks := map[string]TaskDefinition{}
	imports := make([]string, len(req.Files))
	fields := map[string]any{}
	for k, v := range req.Options {
		fields[k] = v
	}
	fields["output_format"] = to
	var results []string
	for i := range req.Files {
		n := strconv.Itoa(i + 1)
		imports[i] = "import-" + n
		tasks[imports[i]] = TaskDef("import/upload", nil)
		if !req.Merge {
			results = append(results, "convert-"+n)
			tasks["convert-"+n] = TaskDef("convert", fields, imports[i])
		}
	}
	if req.Merge {
		results = []string{"merge"}
		tasks["merge"] = TaskDef("merge", fields, imports...)
	}
	tasks["export"] = TaskDef("export/url", nil, results...)
	tag := cmp(req.Tag, "cctoolkit-convert")
	job, raw, err := c.createJobRaw(ctx, NewJob(tag, tasks))
	if err != nil {
		return nil, err
	}
	emit(ConvertEvent{Phase: PhaseCreate, JobID: job.Id})
	res := &ConvertResult{Job: job}
	if err := c.uploadAll(ctx, job, raw, imports, req, sizes, total, emit); err != nil {
		// The job waits for files that will not come: delete it, even
		// when ctx has ended.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if derr := c.DeleteJob(dctx, job.Id); derr == nil {
			res.Deleted = true
			return res, fmt.Errorf("%w (job %s was deleted: nothing was converted)", err, job.Id)
		}
		return res, fmt.Errorf("%w (job %s waits for files that will not come; delete it (delete_job) or let it expire)", err, job.Id)
	}
	res.Resumable = true
	w := req.Wait
	w.Progress = func(p Progress) { emit(ConvertEvent{Phase: PhaseConvert, JobID: job.Id, Job: &p}) }
	done, err := c.WaitJob(ctx, job.Id, &w)
	if done != nil {
		res.Job = done
	}
	if err != nil {
		return res, err
	}
	outDir := cmp(req.OutDir, ".")
	exports := ExportFiles(done)
	var dl batchCounter
	dl.of = len(exports)
	for _, f := range exports {
		if f.Size == nil {
			dl.unknown = true
		} else {
			dl.total += int64(*f.Size)
		}
	}
	paths, err := c.DownloadJob(ctx, done, outDir, &DownloadOptions{
		Overwrite: req.Overwrite,
		Parallel:  req.Parallel,
		Progress: func(name string, d, t int64) {
			b := dl.update(name, d, t)
			emit(ConvertEvent{Phase: PhaseDownload, JobID: job.Id, File: name, Done: d, Total: t, Batch: &b})
		},
	})
	res.Files = paths
	if err != nil {
		return res, err
	}
	emit(ConvertEvent{Phase: PhaseDone, JobID: job.Id})
	return res, nil
}

// uploadAll uploads every file to its import task, Parallel at once; the
// first failure stops the others.
func (c *Client) uploadAll(ctx context.Context, job *Job, raw []byte, imports []string, req ConvertRequest, sizes []int64, total int64, emit func(ConvertEvent)) error {
	forms, err := jobUploadForms(raw)
	if err != nil {
		return fmt.Errorf("convert: job %s: %w", job.Id, err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	up := batchCounter{of: len(req.Files), total: total}
	errs := make([]error, len(req.Files))
	forEach(ctx, len(req.Files), req.Parallel, func(i int) {
		if ctx.Err() != nil {
			errs[i] = context.Cause(ctx)
			return
		}
		f := req.Files[i]
		form := forms[imports[i]]
		if form == nil {
			// Not in the create answer: read the task.
			id := taskIDByName(job, imports[i])
			if id == "" {
				errs[i] = fmt.Errorf("convert: job %s has no task %s", job.Id, imports[i])
				cancel(errs[i])
				return
			}
			_, traw, err := c.getTaskRaw(ctx, id)
			if err == nil {
				form, err = ParseUploadForm(traw)
			}
			if err != nil {
				errs[i] = fmt.Errorf("convert: %w", err)
				cancel(errs[i])
				return
			}
		}
		size := sizes[i]
		report := func(done int64) {
			b := up.update(f, done, size)
			emit(ConvertEvent{Phase: PhaseUpload, JobID: job.Id, File: f, Done: done, Total: size, Batch: &b})
		}
		err := c.uploadPath(ctx, form, f, func(done, all int64) {
			// The multipart body's bytes, as the file's; complete only
			// once the server has said so.
			done = max(0, min(size-1, done-(all-size)))
			report(done)
		})
		if err != nil {
			errs[i] = fmt.Errorf("convert: upload %s: %w", f, err)
			cancel(errs[i])
			return
		}
		report(size)
	})
	// The first real failure, rather than the cancellations it caused.
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// batchCounter adds up the progress of the files of a phase.
type batchCounter struct {
	mu      sync.Mutex
	of      int
	total   int64
	unknown bool
	files   map[string]int64 // bytes so far per file
	done    int64
	count   int
}

func (b *batchCounter) update(name string, done, total int64) Batch {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.files == nil {
		b.files = map[string]int64{}
	}
	prev, seen := b.files[name]
	if seen && prev < 0 {
		// Complete already.
		return b.snapshot()
	}
	b.done += done - prev
	b.files[name] = done
	if total >= 0 && done >= total {
		b.count++
		b.files[name] = -1
	}
	return b.snapshot()
}

func (b *batchCounter) snapshot() Batch {
	t := b.total
	if b.unknown {
		t = -1
	}
	return Batch{Files: b.count, Of: b.of, Done: b.done, Total: t}
}

func (c *Client) uploadPath(ctx context.Context, form *UploadForm, path string, progress TransferProgress) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return c.UploadToForm(ctx, form, filepath.Base(path), f, st.Size(), progress)
}

func taskIDByName(j *Job, name string) string {
	if j.Tasks == nil {
		return ""
	}
	for _, t := range *j.Tasks {
		if t.Name != nil && *t.Name == name {
			return t.Id
		}
	}
	return ""
}
