package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/cctoolkit/cloudconvert/apierror"
	"github.com/cctoolkit/cloudconvert/localserver"
	"github.com/cctoolkit/cloudconvert/sdk"
	"github.com/cctoolkit/cloudconvert/sdk/webhook"
)

// The examples run against the local CloudConvert server (localserver),
// which converts for real; in a program, call
// sdk.New(os.Getenv("CLOUDCONVERT_API_KEY")) (add sdk.WithSandbox() for
// the sandbox).
func newExampleClient() (*sdk.Client, func()) {
	dir, err := os.MkdirTemp("", "sdk-example")
	if err != nil {
		panic(err)
	}
	s, err := localserver.Start(context.Background(), localserver.Config{DataDir: dir, APIKey: "my-api-key", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	c, err := sdk.New("my-api-key", sdk.WithBaseURL(s.APIURL()), sdk.WithSyncURL(s.SyncURL()))
	if err != nil {
		panic(err)
	}
	return c, func() { s.Close(); os.RemoveAll(dir) }
}

// Convert local files in one call: upload, convert, export, download.
func ExampleConvertFiles() {
	c, done := newExampleClient()
	defer done()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	res, err := sdk.ConvertFiles(context.Background(), c, sdk.ConvertRequest{
		Files:  []string{"testdata/photo.png"},
		To:     "pdf",
		OutDir: filepath.Join(dir, "out"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Job.Status, filepath.Base(res.Files[0]))
	// Output: finished photo.pdf
}

// Create a job of named tasks, upload its input, then wait for it with
// progress.
func ExampleClient_WaitJob() {
	c, done := newExampleClient()
	defer done()
	ctx := context.Background()
	job, err := c.CreateJob(ctx, sdk.NewJob("thumbnails", map[string]sdk.TaskDefinition{
		"upload":  sdk.TaskDef("import/upload", nil),
		"convert": sdk.TaskDef("convert", map[string]any{"output_format": "jpg", "quality": 80}, "upload"),
		"export":  sdk.TaskDef("export/url", nil, "convert"),
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range *job.Tasks {
		if t.Operation == "import/upload" {
			if err := c.UploadFile(ctx, t.Id, "testdata/photo.png", nil); err != nil {
				fmt.Println(err)
				return
			}
		}
	}
	job, err = c.WaitJob(ctx, job.Id, &sdk.WaitOptions{
		Progress: func(p sdk.Progress) { _ = p.Percent /* a progress bar goes here */ },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range sdk.ExportFiles(job) {
		fmt.Println(f.Filename)
	}
	// Output: photo.jpg
}

// Errors of API answers match apierror's sentinels; errors.As finds the
// *apierror.Error with the status and code.
func ExampleClient_GetJob_errors() {
	c, done := newExampleClient()
	defer done()
	_, err := c.GetJob(context.Background(), "6559c281-ed85-4728-80db-414561c631e9")
	var ae *apierror.Error
	if errors.As(err, &ae) {
		fmt.Println(ae.Status, ae.Code, errors.Is(err, apierror.ErrNotFound))
	}
	fmt.Println(err)
	// Output:
	// 404 NOT_FOUND true
	// cloudconvert.get_job: 404 NOT_FOUND: Job not found
}

// Iterate over all jobs with a tag; pages are fetched as needed.
func ExampleClient_Jobs() {
	c, done := newExampleClient()
	defer done()
	ctx := context.Background()
	for range 3 {
		c.CreateJob(ctx, sdk.NewJob("nightly", map[string]sdk.TaskDefinition{
			"import": sdk.TaskDef("import/upload", nil),
		}))
	}
	tag, perPage := "nightly", 2
	n := 0
	for job, err := range c.Jobs(ctx, &sdk.ListJobsParams{FilterTag: &tag, PerPage: &perPage}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		_ = job.Id
		n++
	}
	fmt.Println(n, "jobs")
	// Output: 3 jobs
}

// Receive webhooks: verify the signature, dispatch by event.
func Example_webhook() {
	h := webhook.NewHandler("signing-secret").
		On(webhook.JobFinished, func(ctx context.Context, e *webhook.Event) error {
			fmt.Println("finished:", e.Job.Id)
			return nil
		})
	body := []byte(`{"event":"job.finished","job":{"id":"c677ccf7","status":"finished"}}`)
	req := httptest.NewRequest(http.MethodPost, "/cloudconvert", strings.NewReader(string(body)))
	req.Header.Set(webhook.SignatureHeader, webhook.Sign("signing-secret", body))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	fmt.Println(w.Code)
	// Output:
	// finished: c677ccf7
	// 200
}
