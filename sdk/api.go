package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/cctoolkit/cloudconvert/apierror"
	"github.com/cctoolkit/cloudconvert/generated/cloudconvert/client"
)

// malformed is the error of a success answer that did not carry the
// expected JSON (wrong content type, say); the retry layer treats it like a
// truncated body.
func malformed(status int, contentType string, body []byte) error {
	return fmt.Errorf("status %d, Content-Type %q, %d bytes", status, contentType, len(body))
}

// GetJob returns a job with its tasks (get_job).
func (c *Client) GetJob(ctx context.Context, id string) (*Job, error) {
	if err := checkID("get_job", id); err != nil {
		return nil, err
	}
	o := op{fn: "get_job", method: http.MethodGet, path: "/jobs/" + id, kind: read}
	r, _, err := fetch(ctx, c, &o, func(ctx context.Context) (*client.JobResponse, *http.Response, []byte, error) {
		r, err := c.api.GetJobWithResponse(ctx, id)
		if err != nil {
			return nil, nil, nil, err
		}
		return r.JSON200, r.HTTPResponse, r.Body, nil
	})
	if err != nil {
		return nil, err
	}
	return &r.Data, nil
}

// GetTask returns a task (get_task).
func (c *Client) GetTask(ctx context.Context, id string) (*Task, error) {
	t, _, err := c.getTaskRaw(ctx, id)
	return t, err
}

func (c *Client) getTaskRaw(ctx context.Context, id string) (*Task, []byte, error) {
	if err := checkID("get_task", id); err != nil {
		return nil, nil, err
	}
	o := op{fn: "get_task", method: http.MethodGet, path: "/tasks/" + id, kind: read}
	r, raw, err := fetch(ctx, c, &o, func(ctx context.Context) (*client.TaskResponse, *http.Response, []byte, error) {
		r, err := c.api.GetTaskWithResponse(ctx, id)
		if err != nil {
			return nil, nil, nil, err
		}
		return r.JSON200, r.HTTPResponse, r.Body, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return &r.Data, raw, nil
}

// GetCurrentUser returns the account of the API key (get_current_user).
func (c *Client) GetCurrentUser(ctx context.Context) (*User, error) {
	o := op{fn: "get_current_user", method: http.MethodGet, path: "/users/me", kind: read}
	r, _, err := fetch(ctx, c, &o, func(ctx context.Context) (*client.UserResponse, *http.Response, []byte, error) {
		r, err := c.api.GetCurrentUserWithResponse(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		return r.JSON200, r.HTTPResponse, r.Body, nil
	})
	if err != nil {
		return nil, err
	}
	return &r.Data, nil
}

// CreateJob creates a job (create_job). It is a write: it is retried only
// when the request certainly never reached the server. Use NewJob and
// TaskDef to build the request.
func (c *Client) CreateJob(ctx context.Context, req CreateJobRequest) (*Job, error) {
	j, _, err := c.createJobRaw(ctx, req)
	return j, err
}

func (c *Client) createJobRaw(ctx context.Context, req CreateJobRequest) (*Job, []byte, error) {
	if len(req.Tasks) == 0 {
		return nil, nil, fmt.Errorf("create_job: a job needs at least one task")
	}
	var out *Job
	var raw []byte
	o := op{fn: "create_job", method: http.MethodPost, path: "/jobs", kind: write}
	err := c.call(ctx, &o, func(ctx context.Context) error {
		r, err := c.api.CreateJobWithResponse(ctx, req)
		if err != nil {
			return err
		}
		if r.JSON201 == nil {
			return malformed(r.StatusCode(), r.HTTPResponse.Header.Get("Content-Type"), r.Body)
		}
		out, raw = &r.JSON201.Data, r.Body
		return nil
	})
	return out, raw, err
}

// CreateTask creates a standalone task (create_task): POST /v2/{operation}
// with the operation's fields at the top level of body. It is a write.
func (c *Client) CreateTask(ctx context.Context, operation string, body CreateTaskRequest) (*Task, error) {
	t, _, err := c.createTaskRaw(ctx, operation, body)
	return t, err
}

func (c *Client) createTaskRaw(ctx context.Context, operation string, body CreateTaskRequest) (*Task, []byte, error) {
	f, ok := createTaskOps[operation]
	if !ok {
		return nil, nil, fmt.Errorf("create_task: unknown operation %q (known: %s)", operation, strings.Join(Operations(), ", "))
	}
	var out *Task
	var raw []byte
	o := op{fn: "create_task", method: http.MethodPost, path: "/" + operation, kind: write}
	err := c.call(ctx, &o, func(ctx context.Context) error {
		r, err := f(c.api, ctx, body)
		if err != nil {
			return err
		}
		resp := r.GetJSON201()
		if resp == nil {
			return malformed(r.StatusCode(), r.ContentType(), r.GetBody())
		}
		out, raw = &resp.Data, r.GetBody()
		return nil
	})
	return out, raw, err
}

// Operations lists the task operations CreateTask knows, sorted.
func Operations() []string {
	ops := make([]string, 0, len(createTaskOps))
	for k := range createTaskOps {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	return ops
}

// ListJobs returns one page of jobs (list_jobs). See Jobs for an iterator
// over all pages.
func (c *Client) ListJobs(ctx context.Context, params *ListJobsParams) (*JobList, error) {
	return c.listJobs(ctx, params, "")
}

func (c *Client) listJobs(ctx context.Context, params *ListJobsParams, rawQuery string) (*JobList, error) {
	return listPage(ctx, c, "list_jobs", "/jobs", rawQuery, func(ctx context.Context, eds []client.RequestEditorFn) (*JobList, *http.Response, []byte, error) {
		r, err := c.api.ListJobsWithResponse(ctx, params, eds...)
		if err != nil {
			return nil, nil, nil, err
		}
		return r.JSON200, r.HTTPResponse, r.Body, nil
	})
}

// ListTasks returns one page of tasks (list_tasks). See Tasks for an
// iterator over all pages.
func (c *Client) ListTasks(ctx context.Context, params *ListTasksParams) (*TaskList, error) {
	return c.listTasks(ctx, params, "")
}

func (c *Client) listTasks(ctx context.Context, params *ListTasksParams, rawQuery string) (*TaskList, error) {
	return listPage(ctx, c, "list_tasks", "/tasks", rawQuery, func(ctx context.Context, eds []client.RequestEditorFn) (*TaskList, *http.Response, []byte, error) {
		r, err := c.api.ListTasksWithResponse(ctx, params, eds...)
		if err != nil {
			return nil, nil, nil, err
		}
		return r.JSON200, r.HTTPResponse, r.Body, nil
	})
}

// listPage fetches one page of a list through the retrying call; rawQuery,
// when set, replaces the query (the next page's, from links.next).
func listPage[L any](ctx context.Context, c *Client, fn, path, rawQuery string, get func(context.Context, []client.RequestEditorFn) (*L, *http.Response, []byte, error)) (*L, error) {
	o := op{fn: fn, method: http.MethodGet, path: path, kind: read}
	var eds []client.RequestEditorFn
	if rawQuery != "" {
		eds = append(eds, setQuery(rawQuery))
		o.path += "?" + rawQuery
	}
	out, _, err := fetch(ctx, c, &o, func(ctx context.Context) (*L, *http.Response, []byte, error) { return get(ctx, eds) })
	return out, err
}

// fetch performs one GET through the retrying call: the generated method
// returns its decoded success body (nil when the answer was not the
// expected JSON), the response and the raw body.
func fetch[T any](ctx context.Context, c *Client, o *op, get func(context.Context) (*T, *http.Response, []byte, error)) (*T, []byte, error) {
	var out *T
	var raw []byte
	err := c.call(ctx, o, func(ctx context.Context) error {
		v, resp, body, err := get(ctx)
		if err != nil {
			return err
		}
		if v == nil {
			return malformed(resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		out, raw = v, body
		return nil
	})
	return out, raw, err
}

// setQuery merges the query of a links.next into a generated request: the
// keys of next win (page, per_page, ...), the caller's filters stay (a
// Laravel-style next link may drop them). The request stays on our host and
// path, so the API key never goes elsewhere.
func setQuery(q string) client.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		next, err := url.ParseQuery(q)
		if err != nil {
			return fmt.Errorf("links.next query %q: %w", q, err)
		}
		cur := req.URL.Query()
		for k, v := range next {
			cur[k] = v
		}
		req.URL.RawQuery = cur.Encode()
		return nil
	}
}

// DeleteJob deletes a job and its files (DELETE /v2/jobs/{id}, 204). It is
// idempotent, so it is retried like a read; a 404 on a retry means an
// earlier attempt succeeded.
func (c *Client) DeleteJob(ctx context.Context, id string) error {
	if err := checkID("delete_job", id); err != nil {
		return err
	}
	return c.rawNoContent(ctx, &op{fn: "delete_job", method: http.MethodDelete, path: "/jobs/" + id, kind: read})
}

// DeleteTask deletes a task (DELETE /v2/tasks/{id}, 204).
func (c *Client) DeleteTask(ctx context.Context, id string) error {
	if err := checkID("delete_task", id); err != nil {
		return err
	}
	return c.rawNoContent(ctx, &op{fn: "delete_task", method: http.MethodDelete, path: "/tasks/" + id, kind: read})
}

// CancelTask cancels a waiting or processing task (POST /v2/tasks/{id}/cancel).
func (c *Client) CancelTask(ctx context.Context, id string) (*Task, error) {
	if err := checkID("cancel_task", id); err != nil {
		return nil, err
	}
	return c.rawTask(ctx, &op{fn: "cancel_task", method: http.MethodPost, path: "/tasks/" + id + "/cancel", kind: write})
}

// RetryTask creates a new task that retries a failed one (POST
// /v2/tasks/{id}/retry); the new task has retry_of_task_id set.
func (c *Client) RetryTask(ctx context.Context, id string) (*Task, error) {
	if err := checkID("retry_task", id); err != nil {
		return nil, err
	}
	return c.rawTask(ctx, &op{fn: "retry_task", method: http.MethodPost, path: "/tasks/" + id + "/retry", kind: write})
}

// The endpoints outside the seven generated functions go through raw
// requests with the same doer, credentials and retry rules.

func (c *Client) rawRequest(ctx context.Context, o *op) (*http.Response, error) {
	u := c.baseURL.JoinPath(o.path)
	req, err := http.NewRequestWithContext(ctx, o.method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if o.method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	_ = c.editRequest(ctx, req)
	return doer{c: c}.Do(req)
}

func (c *Client) rawNoContent(ctx context.Context, o *op) error {
	attempts := 0
	err := c.call(ctx, o, func(ctx context.Context) error {
		attempts++
		resp, err := c.rawRequest(ctx, o)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		return err
	})
	if err != nil && attempts > 1 && o.method == http.MethodDelete && isStatus(err, http.StatusNotFound) {
		return nil // an earlier attempt deleted it
	}
	return err
}

func (c *Client) rawTask(ctx context.Context, o *op) (*Task, error) {
	var out *Task
	err := c.call(ctx, o, func(ctx context.Context) error {
		resp, err := c.rawRequest(ctx, o)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		var tr client.TaskResponse
		if err := json.Unmarshal(body, &tr); err != nil {
			return err
		}
		out = &tr.Data
		return nil
	})
	return out, err
}

func checkID(fn, id string) error {
	if id == "" {
		return fmt.Errorf("%s: empty id", fn)
	}
	if strings.ContainsAny(id, "/?#% \t\r\n") {
		return fmt.Errorf("%s: %q is not a valid id", fn, id)
	}
	return nil
}

// NewJob builds a create_job request from task definitions keyed by name.
func NewJob(tag string, tasks map[string]TaskDefinition) CreateJobRequest {
	r := CreateJobRequest{Tasks: tasks}
	if tag != "" {
		r.Tag = &tag
	}
	return r
}

// TaskDef builds a task definition of a job: the operation, its fields
// (output_format, engine, ...) and the names of its input tasks.
func TaskDef(operation string, fields map[string]any, input ...string) TaskDefinition {
	d := TaskDefinition{Operation: client.TaskDefinitionOperation(operation)}
	if len(fields) > 0 {
		d.AdditionalProperties = make(map[string]any, len(fields))
		for k, v := range fields {
			if k == "operation" || k == "input" {
				continue
			}
			d.AdditionalProperties[k] = v
		}
	}
	d.Input = taskInput(input)
	return d
}

// TaskRequest builds a create_task body: the fields at the top level and
// the IDs of the input tasks.
func TaskRequest(fields map[string]any, input ...string) CreateTaskRequest {
	r := CreateTaskRequest{}
	if len(fields) > 0 {
		r.AdditionalProperties = make(map[string]any, len(fields))
		for k, v := range fields {
			if k == "input" {
				continue
			}
			r.AdditionalProperties[k] = v
		}
	}
	r.Input = taskInput(input)
	return r
}

func taskInput(input []string) *client.TaskInput {
	if len(input) == 0 {
		return nil
	}
	var in client.TaskInput
	if len(input) == 1 {
		_ = in.FromTaskInput0(input[0])
	} else {
		_ = in.FromTaskInput1(input)
	}
	return &in
}

// NextQuery returns the query of a list's links.next ("" on the last page).
func NextQuery(next string) (string, error) {
	if next == "" {
		return "", nil
	}
	u, err := url.Parse(next)
	if err != nil {
		return "", fmt.Errorf("links.next %q: %w", next, err)
	}
	if u.RawQuery == "" {
		return "", fmt.Errorf("links.next %q has no query", next)
	}
	return u.RawQuery, nil
}

func isStatus(err error, status int) bool { return StatusOf(err) == status }

// StatusOf returns the HTTP status of an API error, 0 for other errors.
func StatusOf(err error) int {
	var ae *apierror.Error
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}
