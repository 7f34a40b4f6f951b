package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/cctoolkit/cloudconvert/apierror"
	cloudconvert "github.com/cctoolkit/cloudconvert/generated/cloudconvert"
	"github.com/cctoolkit/cloudconvert/generated/cloudconvert/client"
	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
)

// GetJob returns a job with its tasks (get_job).
func (c *Client) GetJob(ctx context.Context, id string) (*Job, error) {
	if err := checkID("get_job", id); err != nil {
		return nil, err
	}
	k := c.begin(ctx, "get_job", false)
	var r client.JobResponse
	resp, err := c.api.GetJob(k.ctx, id)
	if _, err := k.decode(resp, err, &r); err != nil {
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
	k := c.begin(ctx, "get_task", false)
	var r client.TaskResponse
	resp, err := c.api.GetTask(k.ctx, id)
	body, err := k.decode(resp, err, &r)
	if err != nil {
		return nil, nil, err
	}
	return &r.Data, body, nil
}

// GetCurrentUser returns the account of the API key (get_current_user).
func (c *Client) GetCurrentUser(ctx context.Context) (*User, error) {
	k := c.begin(ctx, "get_current_user", false)
	var r client.UserResponse
	resp, err := c.api.GetCurrentUser(k.ctx)
	if _, err := k.decode(resp, err, &r); err != nil {
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
	k := c.begin(ctx, "create_job", false)
	var r client.JobResponse
	resp, err := c.api.CreateJob(k.ctx, req)
	body, err := k.decode(resp, err, &r)
	if err != nil {
		return nil, nil, err
	}
	return &r.Data, body, nil
}

// CreateTask creates a standalone task (create_task): POST /v2/{operation}
// with the operation's fields at the top level of body. It is a write. The
// operation and the request are checked against the descriptor first.
func (c *Client) CreateTask(ctx context.Context, operation string, body CreateTaskRequest) (*Task, error) {
	t, _, err := c.createTaskRaw(ctx, operation, body)
	return t, err
}

func (c *Client) createTaskRaw(ctx context.Context, operation string, body CreateTaskRequest) (*Task, []byte, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, nil, fmt.Errorf("create_task: %w", err)
	}
	fields, err := integration.DecodeJSON(raw, integration.JSONLimits{})
	if err != nil {
		return nil, nil, fmt.Errorf("create_task: %w", err)
	}
	args := integration.NewObject(2)
	args.Set("operation", operation)
	args.Set("payload", fields)
	if in, ok := fields.(*integration.Object).Get("input"); ok {
		fields.(*integration.Object).Delete("input")
		args.Set("input", in)
	}
	res, ierr := c.inv.Invoke(ctx, invoke.Call{Function: c.desc.Function("create_task"), Args: args, Dialect: integration.JSON})
	if ierr != nil {
		return nil, nil, ierr
	}
	var tr client.TaskResponse
	if err := json.Unmarshal(res.Body, &tr); err != nil {
		fn := c.desc.Function("create_task")
		return nil, nil, &integration.Error{Kind: integration.KindResponse, Function: fn.Name, FullName: fn.FullName, Status: res.Status,
			Message: "the answer is not a task: " + err.Error(), OutcomeUnknown: true, Attempts: res.Attempts, Err: err}
	}
	return &tr.Data, res.Body, nil
}

// Operations lists the task operations CreateTask knows, in the spec's
// order.
func Operations() []string { return cloudconvert.Descriptor().OperationNames() }

// ListJobs returns one page of jobs (list_jobs). See Jobs for an iterator
// over all pages.
func (c *Client) ListJobs(ctx context.Context, params *ListJobsParams) (*JobList, error) {
	return c.listJobs(ctx, params, "")
}

func (c *Client) listJobs(ctx context.Context, params *ListJobsParams, rawQuery string) (*JobList, error) {
	k := c.begin(ctx, "list_jobs", false)
	var r client.JobList
	resp, err := c.api.ListJobs(k.ctx, params, nextPage(rawQuery)...)
	if _, err := k.decode(resp, err, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ListTasks returns one page of tasks (list_tasks). See Tasks for an
// iterator over all pages.
func (c *Client) ListTasks(ctx context.Context, params *ListTasksParams) (*TaskList, error) {
	return c.listTasks(ctx, params, "")
}

func (c *Client) listTasks(ctx context.Context, params *ListTasksParams, rawQuery string) (*TaskList, error) {
	k := c.begin(ctx, "list_tasks", false)
	var r client.TaskList
	resp, err := c.api.ListTasks(k.ctx, params, nextPage(rawQuery)...)
	if _, err := k.decode(resp, err, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// nextPage is the request editor of a page after the first: rawQuery, when
// set, is links.next's query.
func nextPage(rawQuery string) []client.RequestEditorFn {
	if rawQuery == "" {
		return nil
	}
	return []client.RequestEditorFn{setQuery(rawQuery)}
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

// DeleteJob deletes a job and its files (delete_job: 204).
func (c *Client) DeleteJob(ctx context.Context, id string) error {
	if err := checkID("delete_job", id); err != nil {
		return err
	}
	k := c.begin(ctx, "delete_job", false)
	resp, err := c.api.DeleteJob(k.ctx, id)
	_, err = k.decode(resp, err, nil)
	return err
}

// DeleteTask deletes a task (delete_task: 204).
func (c *Client) DeleteTask(ctx context.Context, id string) error {
	if err := checkID("delete_task", id); err != nil {
		return err
	}
	k := c.begin(ctx, "delete_task", false)
	resp, err := c.api.DeleteTask(k.ctx, id)
	_, err = k.decode(resp, err, nil)
	return err
}

// CancelTask cancels a waiting or processing task (cancel_task).
func (c *Client) CancelTask(ctx context.Context, id string) (*Task, error) {
	if err := checkID("cancel_task", id); err != nil {
		return nil, err
	}
	k := c.begin(ctx, "cancel_task", false)
	var r client.TaskResponse
	resp, err := c.api.CancelTask(k.ctx, id)
	if _, err := k.decode(resp, err, &r); err != nil {
		return nil, err
	}
	return &r.Data, nil
}

// RetryTask creates a new task that retries a failed one (retry_task); the
// new task has retry_of_task_id set.
func (c *Client) RetryTask(ctx context.Context, id string) (*Task, error) {
	if err := checkID("retry_task", id); err != nil {
		return nil, err
	}
	k := c.begin(ctx, "retry_task", false)
	var r client.TaskResponse
	resp, err := c.api.RetryTask(k.ctx, id)
	if _, err := k.decode(resp, err, &r); err != nil {
		return nil, err
	}
	return &r.Data, nil
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

// StatusOf returns the HTTP status of an API error, 0 for other errors.
func StatusOf(err error) int {
	var ae *apierror.Error
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}
