package localserver

import (
	"bytes"
	"encoding/json"
	"time"
)

// timeLayout is the API's timestamp format: ISO 8601 with a numeric offset
// (2022-09-26T08:14:11+00:00), never "Z".
const timeLayout = "2006-01-02T15:04:05-07:00"

// Time is a timestamp that marshals in the API's format, and as null when zero.
type Time struct{ time.Time }

func now() Time { return Time{time.Now().UTC().Truncate(time.Second)} }

// MarshalJSON writes the API format or null.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.UTC().Format(timeLayout) + `"`), nil
}

// UnmarshalJSON reads RFC 3339 or null.
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// Task statuses.
const (
	StatusWaiting    = "waiting"
	StatusProcessing = "processing"
	StatusFinished   = "finished"
	StatusError      = "error"
)

// Task error codes the server sets (engine codes come from the engine package).
const (
	CodeInputTaskFailed       = "INPUT_TASK_FAILED"
	CodeOperationNotSupported = "OPERATION_NOT_SUPPORTED"
	CodeImportFailed          = "IMPORT_FAILED"
	CodeFileTooLarge          = "FILE_TOO_LARGE"
	CodeInvalidPayload        = "INVALID_PAYLOAD"
	CodeCancelled             = "CANCELLED"
	CodeInternal              = "INTERNAL_ERROR"
	CodeNoInput               = "NO_INPUT_FILES"
	// CodeTimeout: the task ran longer than Config.TaskTimeout.
	CodeTimeout = "TASK_TIMEOUT"
	// CodeCrashLoop: the process died twice while the task ran.
	CodeCrashLoop = "CRASH_LOOP"
)

// Job is a job as the API shows it (and as stored, with its tasks apart).
type Job struct {
	ID         string  `json:"id"`
	Tag        *string `json:"tag"`
	Status     string  `json:"status"`
	CreatedAt  Time    `json:"created_at"`
	StartedAt  Time    `json:"started_at"`
	EndedAt    Time    `json:"ended_at"`
	Tasks      []*Task `json:"tasks"`
	Links      links   `json:"links"`
	WebhookURL string  `json:"-"`

	local jobLocal
}

// jobLocal is what the server keeps about a job beyond its wire shape; it
// is stored inside the job document under "_local".
type jobLocal struct {
	UserID     string `json:"user_id"`
	WebhookURL string `json:"webhook_url,omitempty"`
	Seq        int64  `json:"seq"`
	// announced is the status last announced (events.go); "" before the
	// job's creation was. Not stored: load sets it to the stored status.
	announced string
}

type links struct {
	Self string `json:"self"`
}

// Task is a task as the API shows it.
type Task struct {
	ID             string         `json:"id"`
	Name           *string        `json:"name,omitempty"`
	JobID          *string        `json:"job_id"`
	Status         string         `json:"status"`
	Credits        *int           `json:"credits"`
	Code           *string        `json:"code"`
	Message        *string        `json:"message"`
	Percent        int            `json:"percent"`
	Operation      string         `json:"operation"`
	Engine         *string        `json:"engine"`
	EngineVersion  *string        `json:"engine_version"`
	Payload        map[string]any `json:"payload"`
	Result         *TaskResult    `json:"result"`
	CreatedAt      Time           `json:"created_at"`
	StartedAt      Time           `json:"started_at"`
	EndedAt        Time           `json:"ended_at"`
	RetryOfTaskID  *string        `json:"retry_of_task_id"`
	CopyOfTaskID   *string        `json:"copy_of_task_id"`
	UserID         int            `json:"user_id"`
	Priority       int            `json:"priority"`
	HostName       *string        `json:"host_name"`
	Storage        *string        `json:"storage"`
	DependsOnTasks []string       `json:"depends_on_task_ids"`
	Links          links          `json:"links"`

	local taskLocal
}

// taskLocal is the server's own state of a task.
type taskLocal struct {
	UserID string    `json:"user_id"`
	Seq    int64     `json:"seq"`
	Files  []fileRef `json:"files,omitempty"` // files this task makes available
	// RetriedBy is set when a retry superseded this task in its job.
	RetriedBy string `json:"retried_by,omitempty"`
	// Uploaded is set once an import/upload received its file.
	Uploaded bool           `json:"uploaded,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`
	// Inline: the "file" content of an import/base64 or import/raw task
	// was spooled to disk at creation (never kept in the payload).
	Inline bool `json:"inline,omitempty"`
	// Crashes counts process deaths while the task was running; Stopped
	// marks a run interrupted by a clean shutdown (not a crash); Resumed
	// marks a run that starts over after one.
	Crashes int  `json:"crashes,omitempty"`
	Stopped bool `json:"stopped,omitempty"`
	Resumed bool `json:"resumed,omitempty"`
	// announced is as for jobLocal.
	announced string
}

// fileRef is one stored file a task produced (or, for export/url, exposes).
type fileRef struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	MD5     string    `json:"md5"`
	Dir     string    `json:"dir,omitempty"`
	Expires time.Time `json:"expires"`
	// Shared marks a file that belongs to another task (export/url exposes
	// its inputs' files).
	Shared bool `json:"shared,omitempty"`
}

// TaskResult is what a task produced.
type TaskResult struct {
	Files    []ResultFile   `json:"files,omitempty"`
	Form     *UploadForm    `json:"form,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

// ResultFile is one file of a result.
type ResultFile struct {
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
	URL      string `json:"url,omitempty"`
	MD5      string `json:"md5,omitempty"`
	Dir      string `json:"dir,omitempty"`
}

// UploadForm is where an import/upload task takes its file.
type UploadForm struct {
	URL        string            `json:"url"`
	Parameters map[string]string `json:"parameters"`
}

// User is the account behind an API key.
type User struct {
	ID        int    `json:"id"`
	Username  string `json:"username"`
	Email     string `json:"email"`
	Credits   int    `json:"credits"`
	CreatedAt Time   `json:"created_at"`
	Links     links  `json:"links"`
}

// stored documents: the wire shape plus "_local".

type storedTask struct {
	Task
	Local taskLocal `json:"_local"`
}

type storedJob struct {
	Job
	Local jobLocal `json:"_local"`
}

func (t *Task) ended() bool { return t.Status == StatusFinished || t.Status == StatusError }

func (t *Task) jobID() string {
	if t.JobID == nil {
		return ""
	}
	return *t.JobID
}

func strp(s string) *string { return &s }

func intp(n int) *int { return &n }

// clone copies a task deeply enough for rendering outside the lock.
func (t *Task) clone() *Task {
	c := *t
	c.DependsOnTasks = append([]string(nil), t.DependsOnTasks...)
	c.local.Files = append([]fileRef(nil), t.local.Files...)
	if t.Result != nil {
		r := *t.Result
		c.Result = &r
	}
	return &c
}
