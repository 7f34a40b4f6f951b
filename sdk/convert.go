package sdk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ConvertRequest describes a ConvertFiles run.
type ConvertRequest struct {
	Files   []string       // local files to convert, each on its own
	To      string         // output format: "png", "pdf", ...
	Options map[string]any // more fields of each convert task (engine, pages, quality, ...)
	OutDir  string         // where results go ("" = current directory)
	Tag     string         // job tag ("" = "cctoolkit-convert")
	// Overwrite replaces existing files in OutDir; otherwise a free name
	// "a (1).png" is chosen.
	Overwrite bool
	// Progress receives every step; nil for none.
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
// a line, or moves a bar with Done/Total and Job.Percent.
type ConvertEvent struct {
	Phase       ConvertPhase
	JobID       string
	File        string    // the local file (upload) or the saved name (download)
	Done, Total int64     // bytes, for upload and download (Total -1 if unknown)
	Job         *Progress // for convert
}

// ConvertResult is what ConvertFiles produced.
type ConvertResult struct {
	Job   *Job
	Files []string // paths written, in OutDir
}

// ConvertFiles runs upload -> convert -> export -> download in one job:
// an import/upload, a convert task per file, and one export/url; it uploads
// the files (streamed), waits for the job (sync endpoint, else polling),
// and downloads the results into OutDir. A failed job returns the job and
// an error matching ErrJobFailed that names the failed tasks. Arguments are
// checked before any request (missing file, no format).
func ConvertFiles(ctx context.Context, c *Client, req ConvertRequest) (*ConvertResult, error) {
	to := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(req.To)), ".")
	if to == "" {
		return nil, errors.New("convert: no output format (--to)")
	}
	if len(req.Files) == 0 {
		return nil, errors.New("convert: no input files")
	}
	for _, f := range req.Files {
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
	}
	emit := func(e ConvertEvent) {
		if req.Progress != nil {
			req.Progress(e)
		}
	}
	if err := c.checkConvert(ctx, req.Files, convertFields(req.Options, to)); err != nil {
		return nil, err
	}
	tasks := map[string]TaskDefinition{}
	var converts []string
	imports := make([]string, len(req.Files))
	for i := range req.Files {
		n := strconv.Itoa(i + 1)
		imports[i] = "import-" + n
		tasks[imports[i]] = TaskDef("import/upload", nil)
		fields := map[string]any{}
		for k, v := range req.Options {
			fields[k] = v
		}
		fields["output_format"] = to
		converts = append(converts, "convert-"+n)
		tasks["convert-"+n] = TaskDef("convert", fields, imports[i])
	}
	tasks["export"] = TaskDef("export/url", nil, converts...)
	tag := cmp(req.Tag, "cctoolkit-convert")
	job, raw, err := c.createJobRaw(ctx, NewJob(tag, tasks))
	if err != nil {
		return nil, err
	}
	emit(ConvertEvent{Phase: PhaseCreate, JobID: job.Id})
	forms, err := jobUploadForms(raw)
	if err != nil {
		return &ConvertResult{Job: job}, fmt.Errorf("convert: job %s: %w", job.Id, err)
	}
	for i, f := range req.Files {
		form := forms[imports[i]]
		if form == nil {
			// Not in the create answer: read the task.
			id := taskIDByName(job, imports[i])
			if id == "" {
				return &ConvertResult{Job: job}, fmt.Errorf("convert: job %s has no task %s", job.Id, imports[i])
			}
			_, traw, err := c.getTaskRaw(ctx, id)
			if err != nil {
				return &ConvertResult{Job: job}, err
			}
			if form, err = ParseUploadForm(traw); err != nil {
				return &ConvertResult{Job: job}, fmt.Errorf("convert: %w", err)
			}
		}
		if err := c.uploadPath(ctx, form, f, func(done, total int64) {
			emit(ConvertEvent{Phase: PhaseUpload, JobID: job.Id, File: f, Done: done, Total: total})
		}); err != nil {
			return &ConvertResult{Job: job}, fmt.Errorf("convert: upload %s: %w", f, err)
		}
	}
	w := req.Wait
	w.Progress = func(p Progress) { emit(ConvertEvent{Phase: PhaseConvert, JobID: job.Id, Job: &p}) }
	done, err := c.WaitJob(ctx, job.Id, &w)
	if err != nil {
		if done == nil {
			done = job
		}
		return &ConvertResult{Job: done}, err
	}
	outDir := cmp(req.OutDir, ".")
	paths, err := c.DownloadJob(ctx, done, outDir, &DownloadOptions{
		Overwrite: req.Overwrite,
		Progress: func(name string, d, t int64) {
			emit(ConvertEvent{Phase: PhaseDownload, JobID: job.Id, File: name, Done: d, Total: t})
		},
	})
	res := &ConvertResult{Job: done, Files: paths}
	if err != nil {
		return res, err
	}
	emit(ConvertEvent{Phase: PhaseDone, JobID: job.Id})
	return res, nil
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
