package localserver

import (
	"context"
	"image/jpeg"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/cctoolkit/cloudconvert/generated/cloudconvert/client"
	"github.com/cctoolkit/cloudconvert/sdk"
)

func (e *env) sdk(t testing.TB) *sdk.Client {
	t.Helper()
	c, err := sdk.New(testKey, sdk.WithBaseURL(e.URL+"/v2"), sdk.WithSyncURL(e.URL+"/sync/v2"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSDKConvertFiles: upload (multipart form, no Authorization) ->
// convert -> export/url -> download, all through the production SDK.
func TestSDKConvertFiles(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	var files []string
	for _, n := range []string{"a.png", "b.png"} {
		p := filepath.Join(dir, n)
		os.WriteFile(p, testPNG(64, 48), 0o600)
		files = append(files, p)
	}
	out := t.TempDir()
	res, err := sdk.ConvertFiles(context.Background(), e.sdk(t), sdk.ConvertRequest{Files: files, To: "jpg", OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 2 {
		t.Fatalf("files %v", res.Files)
	}
	for _, p := range res.Files {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() != 64 {
			t.Fatalf("%s: %v", p, err)
		}
	}
}

func TestSDKOperations(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(t)
	ctx := context.Background()
	u, err := c.GetCurrentUser(ctx)
	if err != nil || u.Username != "local" {
		t.Fatalf("user %+v %v", u, err)
	}
	// Standalone tasks chained by ID.
	imp, err := c.CreateTask(ctx, "import/raw", sdk.TaskRequest(map[string]any{"file": "hello", "filename": "hello.txt"}))
	if err != nil {
		t.Fatal(err)
	}
	if imp.JobId != nil && imp.JobId.IsSpecified() && !imp.JobId.IsNull() {
		t.Errorf("standalone task has a job_id")
	}
	exp, err := c.CreateTask(ctx, "export/url", sdk.TaskRequest(nil, imp.Id))
	if err != nil {
		t.Fatal(err)
	}
	done, err := c.WaitTask(ctx, exp.Id, nil)
	if err != nil || done.Status != "finished" {
		t.Fatalf("export %+v %v", done, err)
	}
	// Cancel a task waiting for its upload; retry makes a new task.
	up, err := c.CreateTask(ctx, "import/upload", sdk.TaskRequest(nil))
	if err != nil {
		t.Fatal(err)
	}
	cancelled, err := c.CancelTask(ctx, up.Id)
	if err != nil || cancelled.Status != "error" {
		t.Fatalf("cancel %+v %v", cancelled, err)
	}
	if _, err := c.CancelTask(ctx, up.Id); sdk.StatusOf(err) != http.StatusUnprocessableEntity {
		t.Errorf("second cancel: %v", err)
	}
	retry, err := c.RetryTask(ctx, up.Id)
	if err != nil || retry.Id == up.Id || retry.Status != "waiting" {
		t.Fatalf("retry %+v %v", retry, err)
	}
	if r, _ := retry.RetryOfTaskId.Get(); r != up.Id {
		t.Errorf("retry_of_task_id %q", r)
	}
	// Pagination over 5 jobs, 2 per page.
	for range 5 {
		if _, err := c.CreateJob(ctx, sdk.NewJob("paged", map[string]sdk.TaskDefinition{
			"import": sdk.TaskDef("import/raw", map[string]any{"file": "x", "filename": "x.txt"})})); err != nil {
			t.Fatal(err)
		}
	}
	perPage, tag := 2, "paged"
	var ids []string
	for j, err := range c.Jobs(ctx, &sdk.ListJobsParams{PerPage: &perPage, FilterTag: &tag}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.Id)
	}
	n := len(ids)
	for _, id := range ids {
		j := struct{ Id string }{id}
		if err := c.DeleteJob(ctx, j.Id); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetJob(ctx, j.Id); sdk.StatusOf(err) != http.StatusNotFound {
			t.Fatalf("deleted job: %v", err)
		}
	}
	if n != 5 {
		t.Errorf("listed %d jobs, want 5", n)
	}
	if err := c.DeleteTask(ctx, exp.Id); err != nil {
		t.Fatal(err)
	}
}

// TestGeneratedClient drives the oapi-codegen client directly.
func TestGeneratedClient(t *testing.T) {
	e := newEnv(t)
	auth := func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+testKey)
		return nil
	}
	c, err := client.NewClientWithResponses(e.URL+"/v2", client.WithRequestEditorFn(auth))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tag := "generated"
	imp := client.TaskDefinition{Operation: "import/raw", AdditionalProperties: map[string]any{"file": "abc", "filename": "a.txt"}}
	in := client.TaskInput{}
	in.FromTaskInput0("import")
	exp := client.TaskDefinition{Operation: "export/url", Input: &in}
	cr, err := c.CreateJobWithResponse(ctx, client.CreateJobRequest{Tag: &tag, Tasks: map[string]client.TaskDefinition{"import": imp, "export": exp}})
	if err != nil || cr.JSON201 == nil {
		t.Fatalf("create: %v %s", err, cr.Body)
	}
	id := cr.JSON201.Data.Id
	e.waitJob(id)
	gr, err := c.GetJobWithResponse(ctx, id)
	if err != nil || gr.JSON200 == nil || gr.JSON200.Data.Status != "finished" || gr.JSON200.Data.Tasks == nil || len(*gr.JSON200.Data.Tasks) != 2 {
		t.Fatalf("get: %v %s", err, gr.Body)
	}
	st := client.ListJobsParamsFilterStatus("finished")
	lr, err := c.ListJobsWithResponse(ctx, &client.ListJobsParams{FilterStatus: &st, FilterTag: &tag})
	if err != nil || lr.JSON200 == nil || len(lr.JSON200.Data) != 1 {
		t.Fatalf("list: %v %s", err, lr.Body)
	}
	op := client.ListTasksParamsFilterOperation("export/url")
	tr, err := c.ListTasksWithResponse(ctx, &client.ListTasksParams{FilterOperation: &op})
	if err != nil || tr.JSON200 == nil || len(tr.JSON200.Data) != 1 {
		t.Fatalf("list tasks: %v %s", err, tr.Body)
	}
	ur, err := c.GetCurrentUserWithResponse(ctx)
	if err != nil || ur.JSON200 == nil || ur.JSON200.Data.Id != 1 {
		t.Fatalf("user: %v %s", err, ur.Body)
	}
	nf, err := c.GetJobWithResponse(ctx, "nope")
	if err != nil || nf.StatusCode() != 404 || nf.JSON404 == nil || nf.JSON404.Code == nil || *nf.JSON404.Code != "NOT_FOUND" {
		t.Fatalf("404: %v %s", err, nf.Body)
	}
}
