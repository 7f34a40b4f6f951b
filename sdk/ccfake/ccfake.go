// Package ccfake is a small in-memory CloudConvert API v2 for tests: jobs
// and tasks in the real wire format (tasks keyed by name on create, lists
// with links/meta, escaped slashes on the main host), import/upload forms,
// export downloads, the sync wait endpoint, and counters to check that no
// write was duplicated. It runs task graphs in steps (each GET of a
// processing job advances it), and fails a convert whose output_format is
// "fail". It is a stand-in until the local server (localserver/) is ready;
// tests take the base URL, so they can point at either.
package ccfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Server is the fake API.
type Server struct {
	*httptest.Server
	Key string // required Bearer key ("" = any)

	JobsCreated  atomic.Int64
	TasksCreated atomic.Int64
	UploadBytes  atomic.Int64 // file bytes received by upload forms
	// UploadFields is the order of the form fields of the last upload, file last.
	UploadFields []string

	mu    sync.Mutex
	seq   int
	jobs  map[string]*job
	order []string // job IDs in creation order
	tasks map[string]*task
}

type job struct {
	ID, Tag, Status, Created string
	Tasks                    []*task
}

type task struct {
	ID, Name, JobID, Operation, Status, Code, Message string
	Percent                                           int
	Fields                                            map[string]any
	Input                                             []string // task names (job) or IDs
	Result                                            map[string]any
	Content                                           []byte // produced file
	Filename                                          string
}

// New starts a fake API. Its REST base is URL()+"/v2", the sync base
// SyncURL().
func New(key string) *Server {
	s := &Server{Key: key, jobs: map[string]*job{}, tasks: map[string]*task{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// BaseURL is the REST base URL ("http://127.0.0.1:port/v2").
func (s *Server) BaseURL() string { return s.URL + "/v2" }

// SyncURL is the sync host's base URL.
func (s *Server) SyncURL() string { return s.URL + "/sync/v2" }

func (s *Server) id() string {
	s.seq++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", s.seq, s.seq)
}

func writeJSON(w http.ResponseWriter, status int, v any, escapeSlashes bool) {
	b, _ := json.Marshal(v)
	if escapeSlashes {
		b = bytes.ReplaceAll(b, []byte("/"), []byte(`\/`))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Ratelimit-Limit", "500")
	w.Header().Set("X-Ratelimit-Remaining", "499")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func apiError(w http.ResponseWriter, status int, code, msg string, errs map[string][]string) {
	body := map[string]any{"message": msg, "code": code}
	if errs != nil {
		body["errors"] = errs
	}
	writeJSON(w, status, body, false)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/upload/"):
		s.upload(w, r, strings.TrimPrefix(p, "/upload/"))
		return
	case strings.HasPrefix(p, "/download/"):
		s.download(w, r, strings.TrimPrefix(p, "/download/"))
		return
	}
	sync := strings.HasPrefix(p, "/sync/v2/")
	if sync {
		p = strings.TrimPrefix(p, "/sync/v2")
	} else if strings.HasPrefix(p, "/v2/") {
		p = strings.TrimPrefix(p, "/v2")
	} else {
		http.NotFound(w, r)
		return
	}
	if s.Key != "" && r.Header.Get("Authorization") != "Bearer "+s.Key {
		apiError(w, 401, "UNAUTHENTICATED", "Unauthenticated.", nil)
		return
	}
	esc := !sync
	seg := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case r.Method == "GET" && p == "/users/me":
		writeJSON(w, 200, map[string]any{"data": map[string]any{"id": 1, "username": "Username", "email": "me@example.com", "credits": 4434, "created_at": "2018-12-01T22:26:29+00:00", "links": map[string]any{"self": s.BaseURL() + "/users/1"}}}, esc)
	case r.Method == "POST" && p == "/jobs":
		s.createJob(w, r)
	case r.Method == "GET" && p == "/jobs":
		s.listJobs(w, r)
	case r.Method == "GET" && p == "/tasks":
		s.listTasks(w, r)
	case len(seg) == 2 && seg[0] == "jobs":
		s.mu.Lock()
		j := s.jobs[seg[1]]
		if j != nil && r.Method == "GET" {
			s.advance(j, sync)
		}
		var body any
		if j != nil {
			body = map[string]any{"data": s.jobJSON(j, true)}
		}
		if j != nil && r.Method == "DELETE" {
			delete(s.jobs, j.ID)
		}
		s.mu.Unlock()
		switch {
		case j == nil:
			apiError(w, 404, "NOT_FOUND", "Job not found", nil)
		case r.Method == "DELETE":
			w.WriteHeader(204)
		default:
			writeJSON(w, 200, body, esc)
		}
	case r.Method == "GET" && len(seg) == 2 && seg[0] == "tasks":
		s.mu.Lock()
		t := s.tasks[seg[1]]
		var body any
		if t != nil {
			if j := s.jobs[t.JobID]; j != nil {
				s.advance(j, sync)
			}
			body = map[string]any{"data": s.taskJSON(t)}
		}
		s.mu.Unlock()
		if t == nil {
			apiError(w, 404, "NOT_FOUND", "Task not found", nil)
			return
		}
		writeJSON(w, 200, body, esc)
	case r.Method == "POST" && !sync:
		s.createTask(w, r, strings.Trim(p, "/"))
	default:
		apiError(w, 404, "NOT_FOUND", "No route "+r.Method+" "+p, nil)
	}
}

var knownOps = map[string]bool{"import/url": true, "import/upload": true, "import/base64": true, "convert": true, "optimize": true, "merge": true, "archive": true, "thumbnail": true, "export/url": true, "metadata": true, "capture-website": true}

func (s *Server) createJob(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Tag   string                    `json:"tag"`
		Tasks map[string]map[string]any `json:"tasks"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		apiError(w, 422, "INVALID_DATA", "The given data was invalid.", map[string][]string{"tasks": {"The tasks must be an object keyed by name."}})
		return
	}
	if len(req.Tasks) == 0 {
		apiError(w, 422, "INVALID_DATA", "The given data was invalid.", map[string][]string{"tasks": {"The tasks field is required."}})
		return
	}
	names := make([]string, 0, len(req.Tasks))
	for n := range req.Tasks {
		names = append(names, n)
	}
	sort.Strings(names)
	errs := map[string][]string{}
	for _, n := range names {
		def := req.Tasks[n]
		op, _ := def["operation"].(string)
		if !knownOps[op] {
			errs["tasks."+n+".operation"] = []string{"The operation is invalid."}
		}
		if f, ok := def["output_format"].(string); ok && f == "xyz" {
			errs["tasks."+n+".output_format"] = []string{"The output format xyz is not supported."}
		}
	}
	if len(errs) > 0 {
		apiError(w, 422, "INVALID_DATA", "The given data was invalid.", errs)
		return
	}
	s.mu.Lock()
	j := &job{ID: s.id(), Tag: req.Tag, Status: "waiting", Created: time.Now().UTC().Format(time.RFC3339)}
	for _, n := range names {
		def := req.Tasks[n]
		t := &task{ID: s.id(), Name: n, JobID: j.ID, Operation: def["operation"].(string), Status: "waiting", Fields: map[string]any{}}
		for k, v := range def {
			if k != "operation" && k != "input" {
				t.Fields[k] = v
			}
		}
		switch in := def["input"].(type) {
		case string:
			t.Input = []string{in}
		case []any:
			for _, x := range in {
				t.Input = append(t.Input, fmt.Sprint(x))
			}
		}
		if t.Operation == "import/upload" {
			t.Message = "Waiting for file upload"
			t.Result = map[string]any{"form": s.form(t)}
		}
		j.Tasks = append(j.Tasks, t)
		s.tasks[t.ID] = t
	}
	s.jobs[j.ID] = j
	s.order = append(s.order, j.ID)
	s.JobsCreated.Add(1)
	body := map[string]any{"data": s.jobJSON(j, true)}
	s.mu.Unlock()
	writeJSON(w, 201, body, true)
}

// form is an S3-style upload form whose parameters are deliberately not in
// sorted order (the client must keep the API's order).
func (s *Server) form(t *task) map[string]any {
	params := json.RawMessage(`{"acl":"private","key":"` + t.ID + `/${filename}","success_action_status":"201","X-Amz-Algorithm":"AWS4-HMAC-SHA256","expires":1559588529,"max_file_size":10000000000,"signature":"79fda6c5ffbfaa857ae9a1430641cc68c5a72297"}`)
	return map[string]any{"url": s.URL + "/upload/" + t.ID, "parameters": params}
}

func (s *Server) createTask(w http.ResponseWriter, r *http.Request, op string) {
	if !knownOps[op] {
		apiError(w, 404, "NOT_FOUND", "Unknown operation "+op, nil)
		return
	}
	var def map[string]any
	if err := json.NewDecoder(r.Body).Decode(&def); err != nil {
		apiError(w, 422, "INVALID_DATA", "The given data was invalid.", nil)
		return
	}
	s.mu.Lock()
	t := &task{ID: s.id(), Operation: op, Status: "waiting", Fields: def}
	if op == "import/upload" {
		t.Message = "Waiting for file upload"
		t.Result = map[string]any{"form": s.form(t)}
	}
	s.tasks[t.ID] = t
	s.TasksCreated.Add(1)
	body := map[string]any{"data": s.taskJSON(t)}
	s.mu.Unlock()
	writeJSON(w, 201, body, true)
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request, id string) {
	if r.Header.Get("Authorization") != "" {
		http.Error(w, "<Error><Code>InvalidArgument</Code><Message>Authorization not allowed</Message></Error>", 400)
		return
	}
	if r.ContentLength < 0 {
		http.Error(w, "<Error><Code>MissingContentLength</Code></Error>", 411)
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		http.Error(w, "<Error><Code>MalformedPOSTRequest</Code></Error>", 400)
		return
	}
	var fields []string
	var size int64
	var filename string
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			http.Error(w, "<Error><Code>IncompleteBody</Code></Error>", 400)
			return
		}
		fields = append(fields, part.FormName())
		if part.FormName() == "file" {
			filename = part.FileName()
			n, err := io.Copy(io.Discard, part)
			size += n
			s.UploadBytes.Add(n)
			if err != nil {
				http.Error(w, "<Error><Code>IncompleteBody</Code></Error>", 400)
				return
			}
		} else {
			io.Copy(io.Discard, part)
		}
	}
	s.mu.Lock()
	s.UploadFields = fields
	t := s.tasks[id]
	if t != nil && t.Status == "waiting" {
		t.Status, t.Message, t.Percent = "finished", "", 100
		t.Filename = filename
		t.Content = []byte("uploaded " + filename)
		t.Result = map[string]any{"files": []any{map[string]any{"filename": filename, "size": size}}}
	}
	s.mu.Unlock()
	if t == nil {
		http.Error(w, "<Error><Code>NoSuchKey</Code></Error>", 404)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(201)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><PostResponse><Key>%s/%s</Key></PostResponse>`, id, filename)
}

func (s *Server) download(w http.ResponseWriter, r *http.Request, rest string) {
	id, _, _ := strings.Cut(rest, "/")
	s.mu.Lock()
	t := s.tasks[id]
	var content []byte
	if t != nil {
		content = t.Content
	}
	s.mu.Unlock()
	if t == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(content)))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(content)
}

// advance runs the job one step; sync runs it to the end. Caller holds mu.
func (s *Server) advance(j *job, sync bool) {
	for {
		byName := map[string]*task{}
		for _, t := range j.Tasks {
			byName[t.Name] = t
		}
		progressed := false
		for _, t := range j.Tasks {
			if t.Status == "finished" || t.Status == "error" || strings.HasPrefix(t.Operation, "import/") {
				continue
			}
			ready, failed := true, false
			var inputs []*task
			for _, n := range t.Input {
				in := byName[n]
				if in == nil {
					continue
				}
				inputs = append(inputs, in)
				ready = ready && (in.Status == "finished" || in.Status == "error")
				failed = failed || in.Status == "error"
			}
			if !ready {
				continue
			}
			progressed = true
			switch {
			case failed:
				t.Status, t.Code, t.Message = "error", "INPUT_TASK_FAILED", "Input task has failed"
			case t.Status == "waiting":
				t.Status, t.Percent = "processing", 0
			case t.Percent < 50:
				t.Percent = 50
			default:
				s.finish(t, inputs)
			}
		}
		s.jobStatus(j)
		if !sync || !progressed || j.Status == "finished" || j.Status == "error" {
			return
		}
	}
}

func (s *Server) finish(t *task, inputs []*task) {
	switch t.Operation {
	case "convert":
		if t.Fields["output_format"] == "fail" {
			t.Status, t.Code, t.Message = "error", "CONVERSION_FAILED", "The engine could not convert the file"
			return
		}
		in := inputs[0]
		stem := strings.TrimSuffix(in.Filename, path.Ext(in.Filename))
		t.Filename = stem + "." + fmt.Sprint(t.Fields["output_format"])
		t.Content = []byte(fmt.Sprintf("%s converted to %v", in.Filename, t.Fields["output_format"]))
		t.Result = map[string]any{"files": []any{map[string]any{"filename": t.Filename, "size": len(t.Content)}}}
	case "export/url":
		var files []any
		for _, in := range inputs {
			// One download per input; the download route serves the input task's content.
			files = append(files, map[string]any{"filename": in.Filename, "size": len(in.Content), "url": s.URL + "/download/" + in.ID + "/" + in.Filename + "?sig=secret-signature"})
		}
		t.Result = map[string]any{"files": files}
	}
	t.Status, t.Percent = "finished", 100
}

func (s *Server) jobStatus(j *job) {
	all, anyErr, started := true, false, false
	for _, t := range j.Tasks {
		if t.Status != "finished" && t.Status != "error" {
			all = false
		}
		anyErr = anyErr || t.Status == "error"
		started = started || t.Status != "waiting"
	}
	switch {
	case all && anyErr:
		j.Status = "error"
	case all:
		j.Status = "finished"
	case started:
		j.Status = "processing"
	}
}

func null(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Server) taskJSON(t *task) map[string]any {
	payload := map[string]any{}
	for k, v := range t.Fields {
		payload[k] = v
	}
	if len(t.Input) > 0 {
		payload["input"] = t.Input
	}
	m := map[string]any{
		"id": t.ID, "job_id": null(t.JobID), "status": t.Status, "credits": nil, "code": null(t.Code), "message": null(t.Message),
		"percent": t.Percent, "operation": t.Operation, "engine": nil, "engine_version": nil, "payload": payload,
		"result": t.Result, "created_at": "2019-05-31T23:52:39+00:00", "started_at": nil, "ended_at": nil,
		"retry_of_task_id": nil, "copy_of_task_id": nil, "depends_on_task_ids": []string{},
		"links":     map[string]any{"self": s.BaseURL() + "/tasks/" + t.ID},
		"host_name": nil, // an older field, to check unknown fields survive
	}
	if t.Name != "" {
		m["name"] = t.Name
	}
	return m
}

func (s *Server) jobJSON(j *job, withTasks bool) map[string]any {
	m := map[string]any{"id": j.ID, "tag": null(j.Tag), "status": j.Status, "created_at": j.Created, "started_at": nil, "ended_at": nil,
		"links": map[string]any{"self": s.BaseURL() + "/jobs/" + j.ID}}
	if withTasks {
		var ts []any
		for _, t := range j.Tasks {
			ts = append(ts, s.taskJSON(t))
		}
		m["tasks"] = ts
	}
	return m
}

func page(r *http.Request) (pageNo, per int) {
	pageNo, _ = strconv.Atoi(r.URL.Query().Get("page"))
	per, _ = strconv.Atoi(r.URL.Query().Get("per_page"))
	if pageNo < 1 {
		pageNo = 1
	}
	if per < 1 || per > 100 {
		per = 100
	}
	return
}

// envelope builds a list answer; links.next carries only page (like the
// real API's paginator), so clients must keep their filters.
func envelope(r *http.Request, base string, items []any, pageNo, per, total int) map[string]any {
	lo := min((pageNo-1)*per, total)
	hi := min(lo+per, total)
	self := "http://" + r.Host + base
	links := map[string]any{"first": self + "?page=1", "last": nil, "prev": nil, "next": nil}
	if pageNo > 1 {
		links["prev"] = self + "?page=" + strconv.Itoa(pageNo-1)
	}
	if hi < total {
		links["next"] = self + "?page=" + strconv.Itoa(pageNo+1)
	}
	var from, to any
	if hi > lo {
		from, to = lo+1, hi
	}
	data := items[lo:hi]
	if data == nil {
		data = []any{}
	}
	return map[string]any{"data": data, "links": links, "meta": map[string]any{"current_page": pageNo, "from": from, "path": self, "per_page": per, "to": to}}
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pageNo, per := page(r)
	s.mu.Lock()
	var items []any
	for i := len(s.order) - 1; i >= 0; i-- {
		j := s.jobs[s.order[i]]
		if j == nil || (q.Get("filter[status]") != "" && j.Status != q.Get("filter[status]")) || (q.Get("filter[tag]") != "" && j.Tag != q.Get("filter[tag]")) {
			continue
		}
		items = append(items, s.jobJSON(j, q.Get("include") == "tasks"))
	}
	s.mu.Unlock()
	writeJSON(w, 200, envelope(r, "/v2/jobs", items, pageNo, per, len(items)), true)
}

func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pageNo, per := page(r)
	s.mu.Lock()
	ids := make([]string, 0, len(s.tasks))
	for id := range s.tasks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var items []any
	for _, id := range ids {
		t := s.tasks[id]
		if (q.Get("filter[job_id]") != "" && t.JobID != q.Get("filter[job_id]")) || (q.Get("filter[status]") != "" && t.Status != q.Get("filter[status]")) || (q.Get("filter[operation]") != "" && t.Operation != q.Get("filter[operation]")) {
			continue
		}
		items = append(items, s.taskJSON(t))
	}
	s.mu.Unlock()
	writeJSON(w, 200, envelope(r, "/v2/tasks", items, pageNo, per, len(items)), true)
}

// Fixture reads a file of the shared SDK fixtures (../shared/fixtures/
// cloudconvert-sdk relative to the repository root) given its path under
// that folder; dir is the test's directory depth to the root ("../" per
// level).
func Fixture(rootRel, name string) ([]byte, error) {
	return os.ReadFile(path.Join(rootRel, "../shared/fixtures/cloudconvert-sdk", name))
}
