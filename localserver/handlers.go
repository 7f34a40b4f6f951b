package localserver

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	cloudconvert "github.com/cctoolkit/cloudconvert/generated/cloudconvert"
	"github.com/cctoolkit/cloudconvert/integration"
)

var timeNow = time.Now

var taskNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ---- rendering ----

func (s *Server) taskURL(id string) string { return s.base.String() + "/v2/tasks/" + id }
func (s *Server) jobURL(id string) string  { return s.base.String() + "/v2/jobs/" + id }

func (s *Server) sign(parts ...string) string {
	m := hmac.New(sha256.New, s.signKey)
	m.Write([]byte(strings.Join(parts, "\n")))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Server) checkSig(sig string, parts ...string) bool {
	want := s.sign(parts...)
	return hmac.Equal([]byte(sig), []byte(want))
}

// fileURL is a signed download URL that expires with the file.
func (s *Server) fileURL(f fileRef) string {
	exp := strconv.FormatInt(f.Expires.Unix(), 10)
	return s.base.String() + "/files/" + f.ID + "/" + url.PathEscape(f.Name) + "?expires=" + exp + "&signature=" + s.sign("file", f.ID, exp)
}

// uploadForm is where an import/upload task takes its file. The URL is
// signed itself, so that the server checks it before reading any of the
// body; the parameters carry the signature too, as S3 forms do.
func (s *Server) uploadForm(t *Task) *UploadForm {
	exp := strconv.FormatInt(t.CreatedAt.Add(24*time.Hour).Unix(), 10)
	sig := s.sign("upload", t.ID, exp)
	return &UploadForm{URL: s.base.String() + "/uploads/" + t.ID + "?expires=" + exp + "&signature=" + sig, Parameters: map[string]string{
		"acl": "private", "key": t.ID + "/${filename}", "success_action_status": "201",
		"expires": exp, "signature": sig}}
}

// render makes the wire view of a task; call under mu (read).
func (s *Server) render(t *Task) *Task {
	c := *t
	c.Links = links{Self: s.taskURL(t.ID)}
	if c.DependsOnTasks == nil {
		c.DependsOnTasks = []string{}
	}
	c.Result = nil
	if _, ok := t.Payload["file"]; ok && (t.Operation == "import/base64" || t.Operation == "import/raw") {
		// Never echo file contents (tasks stored before they were spooled).
		c.Payload = make(map[string]any, len(t.Payload))
		for k, v := range t.Payload {
			if k != "file" {
				c.Payload[k] = v
			}
		}
	}
	switch {
	case t.Operation == "import/upload" && !t.local.Uploaded && t.Status == StatusWaiting:
		c.Result = &TaskResult{Form: s.uploadForm(t)}
	case t.Status == StatusFinished:
		r := &TaskResult{Metadata: t.local.Metadata}
		isImport := strings.HasPrefix(t.Operation, "import/")
		for _, f := range t.local.Files {
			rf := ResultFile{Filename: f.Name, Size: f.Size, Dir: f.Dir}
			if isImport {
				rf.MD5 = f.MD5
			}
			if t.Operation == "export/url" {
				rf.URL = s.fileURL(f)
			}
			r.Files = append(r.Files, rf)
		}
		if r.Files == nil && r.Metadata == nil {
			r.Files = []ResultFile{}
		}
		c.Result = r
	}
	return &c
}

func (s *Server) renderJob(j *Job, withTasks bool) *Job {
	c := *j
	c.Links = links{Self: s.jobURL(j.ID)}
	c.Tasks = nil
	if withTasks {
		c.Tasks = make([]*Task, 0, len(j.Tasks))
		for _, t := range j.Tasks {
			c.Tasks = append(c.Tasks, s.render(t))
		}
	}
	return &c
}

type dataEnvelope struct {
	Data any `json:"data"`
}

// jobView omits tasks when they were not asked for (lists without include).
type jobView struct {
	*Job
	Tasks []*Task `json:"tasks,omitempty"`
}

// ---- users ----

func (s *Server) renderUser(u *UserConfig) *User {
	return &User{ID: u.ID, Username: u.Username, Email: u.Email, Credits: u.Credits,
		CreatedAt: Time{time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		Links:     links{Self: fmt.Sprintf("%s/v2/users/%d", s.base.String(), u.ID)}}
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, c *call) {
	c.ok(w, http.StatusOK, dataEnvelope{s.renderUser(c.user)})
}

// ---- jobs ----

type jobRequest struct {
	Tasks      json.RawMessage `json:"tasks"`
	Tag        *string         `json:"tag"`
	WebhookURL *string         `json:"webhook_url"`
}

// orderedObject decodes a JSON object keeping its key order.
func orderedObject(raw json.RawMessage) ([]string, map[string]map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, nil, fmt.Errorf("tasks must be an object keyed by task name")
	}
	var keys []string
	vals := map[string]map[string]any{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		key, _ := k.(string)
		var v map[string]any
		if err := dec.Decode(&v); err != nil {
			return nil, nil, fmt.Errorf("task %q must be an object", key)
		}
		if _, dup := vals[key]; dup {
			return nil, nil, fmt.Errorf("task %q is given twice", key)
		}
		keys = append(keys, key)
		vals[key] = v
	}
	return keys, vals, nil
}

// inputList reads "input": a string or an array of strings.
func inputList(v any) ([]string, bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case string:
		return []string{x}, true
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

func (s *Server) nextSeq() int64 {
	s.seq++
	return s.seq
}

func (s *Server) createJob(w http.ResponseWriter, r *http.Request, c *call) {
	var req jobRequest
	dec := json.NewDecoder(bytes.NewReader(c.body))
	if err := dec.Decode(&req); err != nil {
		c.fail(w, errInvalid("The given data was invalid.", map[string][]string{"body": {err.Error()}}))
		return
	}
	names, defs, err := orderedObject(req.Tasks)
	if err != nil {
		c.fail(w, errInvalid("The given data was invalid.", map[string][]string{"tasks": {err.Error()}}))
		return
	}
	fields := map[string][]string{}
	if len(names) == 0 {
		fields["tasks"] = []string{"The tasks field is required."}
	}
	if len(names) > maxJobTasks {
		fields["tasks"] = []string{fmt.Sprintf("A job may have at most %d tasks; it has %d.", maxJobTasks, len(names))}
	}
	if req.Tag != nil && len(*req.Tag) > maxTagLen {
		fields["tag"] = []string{fmt.Sprintf("The tag may not be longer than %d bytes.", maxTagLen)}
	}
	if req.WebhookURL != nil && *req.WebhookURL != "" {
		if u, err := url.Parse(*req.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(*req.WebhookURL) > maxURLLen {
			fields["webhook_url"] = []string{fmt.Sprintf("The webhook url must be an http or https URL of at most %d bytes.", maxURLLen)}
		}
	}
	inputs := map[string][]string{}
	uses := map[string]string{} // watermark tasks' image tasks: dependencies beside input
	inputsOK := true
	for _, name := range names {
		def := defs[name]
		key := "tasks." + name
		if len(name) > maxNameLen {
			key = "tasks." + truncateUTF8(name, maxNameLen) + "..."
			fields[key] = append(fields[key], fmt.Sprintf("Task names may not be longer than %d bytes.", maxNameLen))
		} else if !taskNameRE.MatchString(name) {
			fields[key] = append(fields[key], "Task names may contain letters, digits, - and _ only.")
		}
		op, ok := def["operation"].(string)
		if !ok || op == "" {
			fields[key+".operation"] = append(fields[key+".operation"], "The operation field is required.")
		}
		in, ok := inputList(def["input"])
		if !ok {
			inputsOK = false
			fields[key+".input"] = append(fields[key+".input"], "The input must be a task name or an array of task names.")
			continue
		}
		for _, ref := range in {
			if _, exists := defs[ref]; !exists {
				inputsOK = false
				fields[key+".input"] = append(fields[key+".input"], fmt.Sprintf("The input task %q does not exist in this job.", short(ref)))
			}
		}
		inputs[name] = in
		if ref := imageRef(op, def); ref != "" {
			if _, exists := defs[ref]; !exists {
				inputsOK = false
				fields[key+".image"] = append(fields[key+".image"], fmt.Sprintf("The image task %q does not exist in this job.", short(ref)))
			} else {
				uses[name] = ref
			}
		}
		for field, msg := range requiredFieldErrors(op, def, c.spilled(name, def)) {
			fields[key+"."+field] = append(fields[key+"."+field], msg)
		}
	}
	if inputsOK && len(names) > 0 {
		graph := make(map[string][]string, len(inputs))
		for n, in := range inputs {
			graph[n] = in
			if ref, ok := uses[n]; ok {
				graph[n] = append(slices.Clone(in), ref)
			}
		}
		if cyc := findCycle(names, graph); cyc != nil {
			fields["tasks"] = append(fields["tasks"], "The inputs of the tasks form a cycle: "+strings.Join(cyc, " -> "))
		}
	}
	if len(fields) > 0 {
		c.fail(w, errInvalid("The given data was invalid.", fields))
		return
	}
	created := now()
	job := &Job{ID: uuid.NewString(), Tag: req.Tag, Status: StatusWaiting, CreatedAt: created,
		local: jobLocal{UserID: fmt.Sprint(c.user.ID)}}
	if req.WebhookURL != nil {
		job.local.WebhookURL = *req.WebhookURL
	}
	ids := map[string]string{}
	for _, n := range names {
		ids[n] = uuid.NewString()
		if c.spilled(n, defs[n]) {
			ids[n] = c.spills[n].taskID // the spooled content is named after its task
		}
	}
	for _, n := range names {
		def := defs[n]
		payload := make(map[string]any, len(def))
		for k, v := range def {
			payload[k] = v
		}
		delete(payload, "name")
		inline := c.spilled(n, def)
		if inline {
			delete(payload, "file") // the content is in the spool, never echoed back
		}
		if in := inputs[n]; in != nil {
			arr := make([]any, len(in))
			for i, v := range in {
				arr[i] = v
			}
			payload["input"] = arr
		}
		deps := []string{}
		for _, in := range inputs[n] {
			deps = append(deps, ids[in])
		}
		if ref, ok := uses[n]; ok {
			deps = append(deps, ids[ref])
		}
		t := s.newTask(ids[n], def["operation"].(string), payload, deps, c.user, created)
		t.Name, t.JobID = strp(n), strp(job.ID)
		t.local.Inline = inline
		job.Tasks = append(job.Tasks, t)
	}
	err = s.write(func(b *batch) error {
		job.local.Seq = s.nextSeq()
		s.jobs[job.ID] = job
		b.job(job)
		for _, t := range job.Tasks {
			t.local.Seq = s.nextSeq()
			s.addTask(t)
			b.task(t)
		}
		return nil
	})
	if err != nil {
		s.locked(func() {
			delete(s.jobs, job.ID)
			for _, t := range job.Tasks {
				s.removeTask(t.ID)
			}
		})
		c.fail(w, &apiError{Status: http.StatusInternalServerError, Code: "INTERNAL_ERROR", Message: "The job could not be stored"})
		return
	}
	for _, n := range names {
		if c.spilled(n, defs[n]) {
			c.adopt(n)
		}
	}
	for _, t := range job.Tasks {
		s.reconcile(t.ID)
	}
	var view *Job
	s.rlocked(func() { view = s.renderJob(job, true) })
	c.ok(w, http.StatusCreated, dataEnvelope{view})
}

func (s *Server) newTask(id, op string, payload map[string]any, deps []string, u *UserConfig, created Time) *Task {
	t := &Task{ID: id, Status: StatusWaiting, Operation: op, Payload: payload, CreatedAt: created,
		DependsOnTasks: deps, UserID: u.ID, Priority: -10, local: taskLocal{UserID: fmt.Sprint(u.ID)}}
	if op == "import/upload" {
		t.Message = strp("Waiting for file upload")
	}
	return t
}

// addTask indexes a task; under mu.
func (s *Server) addTask(t *Task) {
	s.tasks[t.ID] = t
	for _, d := range t.DependsOnTasks {
		s.dependents[d] = append(s.dependents[d], t.ID)
	}
}

// removeTask unindexes a task; under mu.
func (s *Server) removeTask(id string) {
	t := s.tasks[id]
	if t == nil {
		return
	}
	delete(s.tasks, id)
	for _, d := range t.DependsOnTasks {
		list := s.dependents[d]
		for i, x := range list {
			if x == id {
				s.dependents[d] = append(list[:i:i], list[i+1:]...)
				break
			}
		}
		if len(s.dependents[d]) == 0 {
			delete(s.dependents, d)
		}
	}
	if ch, ok := s.waiters[id]; ok {
		close(ch)
		delete(s.waiters, id)
	}
	if cancel := s.running[id]; cancel != nil {
		cancel()
	}
}

// findCycle returns a cycle of task names, or nil.
func findCycle(names []string, inputs map[string][]string) []string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var cycle []string
	var visit func(n string) bool
	visit = func(n string) bool {
		color[n] = grey
		stack = append(stack, n)
		for _, m := range inputs[n] {
			switch color[m] {
			case grey:
				for i, x := range stack {
					if x == m {
						cycle = append(append([]string(nil), stack[i:]...), m)
						return true
					}
				}
			case white:
				if visit(m) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
		return false
	}
	for _, n := range names {
		if color[n] == white && visit(n) {
			return cycle
		}
	}
	return nil
}

// ownJob finds a job of the caller; under mu.
func (s *Server) ownJob(id string, u *UserConfig) *Job {
	j := s.jobs[id]
	if j == nil || j.local.UserID != fmt.Sprint(u.ID) {
		return nil
	}
	return j
}

func (s *Server) ownTask(id string, u *UserConfig) *Task {
	t := s.tasks[id]
	if t == nil || t.local.UserID != fmt.Sprint(u.ID) {
		return nil
	}
	return t
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request, c *call, sync bool) {
	id := r.PathValue("id")
	if sync {
		s.waitEnd(r.Context(), id, func() (bool, bool) {
			j := s.ownJob(id, c.user)
			return j != nil, j != nil && (j.Status == StatusFinished || j.Status == StatusError)
		})
	}
	var (
		view  *Job
		kept  []byte
		gen   uint64
		ended bool
		key   = viewKey{kind: "job", id: id, escape: c.escape}
	)
	s.rlocked(func() {
		j := s.ownJob(id, c.user)
		if j == nil {
			return
		}
		gen, ended = s.gen, j.Status == StatusFinished || j.Status == StatusError
		if kept, _ = s.views.get(key, gen); kept == nil {
			view = s.renderJob(j, true)
		}
	})
	if kept == nil && view == nil {
		c.fail(w, errNotFound("Job"))
		return
	}
	s.answerView(w, c, key, kept, view, gen, ended)
}

// answerView writes a job's or task's answer: the kept one, or view
// encoded (and kept when the job or task has ended: it changes no more
// but by a deletion or a retry, which any change of state notices).
func (s *Server) answerView(w http.ResponseWriter, c *call, key viewKey, kept []byte, view any, gen uint64, ended bool) {
	if kept != nil {
		writeBody(w, http.StatusOK, kept)
		return
	}
	b, err := encodeJSON(dataEnvelope{view}, c.escape)
	if err != nil {
		writeBody(w, http.StatusInternalServerError, encodeFailure)
		return
	}
	if ended {
		s.views.put(key, gen, b)
	}
	writeBody(w, http.StatusOK, b)
}

func (s *Server) getTask(w http.ResponseWriter, r *http.Request, c *call, sync bool) {
	id := r.PathValue("id")
	if sync {
		s.waitEnd(r.Context(), id, func() (bool, bool) {
			t := s.ownTask(id, c.user)
			return t != nil, t != nil && t.ended()
		})
	}
	var (
		view  *Task
		kept  []byte
		gen   uint64
		ended bool
		key   = viewKey{kind: "task", id: id, escape: c.escape}
	)
	s.rlocked(func() {
		t := s.ownTask(id, c.user)
		if t == nil {
			return
		}
		gen, ended = s.gen, t.ended()
		if kept, _ = s.views.get(key, gen); kept == nil {
			view = s.render(t)
		}
	})
	if kept == nil && view == nil {
		c.fail(w, errNotFound("Task"))
		return
	}
	s.answerView(w, c, key, kept, view, gen, ended)
}

// ---- lists ----

type listLinks struct {
	First string  `json:"first"`
	Last  *string `json:"last"`
	Prev  *string `json:"prev"`
	Next  *string `json:"next"`
}

type listMeta struct {
	CurrentPage int    `json:"current_page"`
	From        *int   `json:"from"`
	Path        string `json:"path"`
	PerPage     int    `json:"per_page"`
	To          *int   `json:"to"`
}

type listEnvelope struct {
	Data  any       `json:"data"`
	Links listLinks `json:"links"`
	Meta  listMeta  `json:"meta"`
}

// maxPage bounds the page parameter: (page-1)*per_page must not
// overflow, and no account has a billion jobs.
const maxPage = 1_000_000

// pageParams reads per_page and page with the default and limits the spec
// gives the list function's parameters (the descriptor is the one source:
// a client refuses per_page 101 for the same reason the server answers
// 422). The errors are keyed by the parameter.
func pageParams(q url.Values, function string) (page, perPage int, e *apiError) {
	fn := cloudconvert.Descriptor().Function(function)
	perPageMin, perPageMax, perPageDefault := bounds(fn.Param("per_page"), 1, 100, 20)
	page, perPage = 1, perPageDefault
	fields := map[string][]string{}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < perPageMin || n > perPageMax {
			fields["per_page"] = []string{fmt.Sprintf("The per page must be an integer between %d and %d.", perPageMin, perPageMax)}
		}
		perPage = n
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPage {
			fields["page"] = []string{fmt.Sprintf("The page must be an integer between 1 and %d.", maxPage)}
		}
		page = n
	}
	if len(fields) > 0 {
		return 0, 0, errInvalid("The given data was invalid.", fields)
	}
	return page, perPage, nil
}

// bounds reads an integer parameter's minimum, maximum and default from
// the descriptor, with fallbacks for what the spec leaves open.
func bounds(p *integration.Param, lo, hi, def int) (int, int, int) {
	if p == nil {
		return lo, hi, def
	}
	s := p.Schema.Resolved()
	if s.Minimum != nil {
		lo = int(*s.Minimum)
	}
	if s.Maximum != nil {
		hi = int(*s.Maximum)
	}
	if d, ok := s.Default.(float64); ok {
		def = int(d)
	}
	return lo, hi, def
}

// pageOf cuts one page out of n items: [from, to).
// pageViews renders the items of one page of a sorted list and says
// whether a page follows.
func pageViews[T, V any](items []T, page, perPage int, render func(T) V) (views []V, hasNext bool) {
	from := min((page-1)*perPage, len(items)) // both bounded by pageParams: no overflow
	to := min(from+perPage, len(items))
	views = make([]V, 0, to-from)
	for _, it := range items[from:to] {
		views = append(views, render(it))
	}
	return views, to < len(items)
}

func (s *Server) envelope(path string, q url.Values, page, perPage, count int, hasNext bool, data any) listEnvelope {
	full := s.base.String() + path
	pageURL := func(p int) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "page" && len(vs) > 0 && vs[0] != "" {
				v[k] = vs
			}
		}
		v.Set("page", strconv.Itoa(p))
		return full + "?" + v.Encode()
	}
	env := listEnvelope{Data: data, Links: listLinks{First: pageURL(1)},
		Meta: listMeta{CurrentPage: page, Path: full, PerPage: perPage}}
	if page > 1 {
		env.Links.Prev = strp(pageURL(page - 1))
	}
	if hasNext {
		env.Links.Next = strp(pageURL(page + 1))
	}
	if count > 0 {
		env.Meta.From = intp((page-1)*perPage + 1)
		env.Meta.To = intp((page-1)*perPage + count)
	}
	return env
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	page, perPage, e := pageParams(q, "list_jobs")
	if e != nil {
		c.fail(w, e)
		return
	}
	status, tag := q.Get("filter[status]"), q.Get("filter[tag]")
	withTasks := false
	for _, inc := range strings.Split(q.Get("include"), ",") {
		withTasks = withTasks || strings.TrimSpace(inc) == "tasks"
	}
	uid := fmt.Sprint(c.user.ID)
	var views []jobView
	hasNext := false
	s.rlocked(func() {
		var match []*Job
		for _, j := range s.jobs {
			if j.local.UserID != uid || (status != "" && j.Status != status) || (tag != "" && (j.Tag == nil || *j.Tag != tag)) {
				continue
			}
			match = append(match, j)
		}
		sort.Slice(match, func(a, b int) bool { return match[a].local.Seq > match[b].local.Seq })
		views, hasNext = pageViews(match, page, perPage, func(j *Job) jobView {
			v := s.renderJob(j, withTasks)
			return jobView{Job: v, Tasks: v.Tasks}
		})
	})
	c.ok(w, http.StatusOK, s.envelope("/v2/jobs", q, page, perPage, len(views), hasNext, views))
}

func (s *Server) listTasks(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	page, perPage, e := pageParams(q, "list_tasks")
	if e != nil {
		c.fail(w, e)
		return
	}
	status, op, jobID := q.Get("filter[status]"), q.Get("filter[operation]"), q.Get("filter[job_id]")
	uid := fmt.Sprint(c.user.ID)
	var views []*Task
	hasNext := false
	s.rlocked(func() {
		var match []*Task
		for _, t := range s.tasks {
			if t.local.UserID != uid || (status != "" && t.Status != status) || (op != "" && t.Operation != op) || (jobID != "" && t.jobID() != jobID) {
				continue
			}
			match = append(match, t)
		}
		sort.Slice(match, func(a, b int) bool { return match[a].local.Seq > match[b].local.Seq })
		views, hasNext = pageViews(match, page, perPage, s.render)
	})
	c.ok(w, http.StatusOK, s.envelope("/v2/tasks", q, page, perPage, len(views), hasNext, views))
}

// ---- standalone tasks ----

func (s *Server) createTask(w http.ResponseWriter, r *http.Request, c *call) {
	op := r.PathValue("operation")
	var body map[string]any
	dec := json.NewDecoder(bytes.NewReader(c.body))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil || body == nil {
		c.fail(w, errInvalid("The given data was invalid.", map[string][]string{"body": {"The request body must be a JSON object."}}))
		return
	}
	in, ok := inputList(body["input"])
	if !ok {
		c.fail(w, errInvalid("The given data was invalid.", map[string][]string{"input": {"The input must be a task ID or an array of task IDs."}}))
		return
	}
	fields := map[string][]string{}
	deps := append([]string{}, in...)
	s.rlocked(func() {
		for _, id := range in {
			if s.ownTask(id, c.user) == nil {
				fields["input"] = append(fields["input"], fmt.Sprintf("The input task %q does not exist.", short(id)))
			}
		}
		if ref := imageRef(op, body); ref != "" {
			if s.ownTask(ref, c.user) == nil {
				fields["image"] = append(fields["image"], fmt.Sprintf("The image task %q does not exist.", short(ref)))
			}
			deps = append(deps, ref)
		}
	})
	inline := c.spilled("", body)
	for field, msg := range requiredFieldErrors(op, body, inline) {
		fields[field] = append(fields[field], msg)
	}
	if len(fields) > 0 {
		c.fail(w, errInvalid("The given data was invalid.", fields))
		return
	}
	payload := map[string]any{}
	for k, v := range body {
		payload[k] = v
	}
	payload["operation"] = op
	delete(payload, "name")
	if in != nil {
		arr := make([]any, len(in))
		for i, v := range in {
			arr[i] = v
		}
		payload["input"] = arr
	}
	id := uuid.NewString()
	if inline {
		id = c.spills[""].taskID
		delete(payload, "file") // the content is in the spool, never echoed back
	}
	t := s.newTask(id, op, payload, deps, c.user, now())
	t.local.Inline = inline
	if s.createStandalone(w, c, t) {
		c.adopt("")
		s.reconcile(t.ID)
		s.respondTask(w, c, t.ID, http.StatusCreated)
	}
}

func (s *Server) createStandalone(w http.ResponseWriter, c *call, t *Task) bool {
	err := s.write(func(b *batch) error {
		t.local.Seq = s.nextSeq()
		s.addTask(t)
		b.task(t)
		return nil
	})
	if err != nil {
		s.locked(func() { s.removeTask(t.ID) })
		c.fail(w, &apiError{Status: http.StatusInternalServerError, Code: "INTERNAL_ERROR", Message: "The task could not be stored"})
		return false
	}
	return true
}

func (s *Server) respondTask(w http.ResponseWriter, c *call, id string, status int) {
	var view *Task
	s.rlocked(func() {
		if t := s.tasks[id]; t != nil {
			view = s.render(t)
		}
	})
	if view == nil {
		c.fail(w, errNotFound("Task"))
		return
	}
	c.ok(w, status, dataEnvelope{view})
}

// maxJobTasks, maxTagLen, maxNameLen and maxURLLen bound what a job
// carries: far beyond what the API is used for (an import, a few
// conversions, an export), and small enough that a job's JSON, its
// validation and every answer about it stay small.
const (
	maxJobTasks = 200
	maxTagLen   = 255
	maxNameLen  = 128
	maxURLLen   = 2048
)

// requiredFields are the operation-specific fields without which the
// real API refuses a task (422), checked at creation so that the mistake
// is reported where it is made rather than as a failed task later.
var requiredFields = map[string][]string{
	"import/url":        {"url"},
	"import/base64":     {"file", "filename"},
	"import/raw":        {"file", "filename"},
	"capture-website":   {"url"},
	"convert":           {"input", "output_format"},
	"watermark":         {"input"},
	"archive/extract":   {"input"},
	"metadata/write":    {"input"},
	"pdf/split-pages":   {"input"},
	"pdf/extract-pages": {"input"},
	"pdf/rotate-pages":  {"input"},
	"pdf/encrypt":       {"input"},
	"pdf/decrypt":       {"input"},
	"optimize":          {"input"},
	"thumbnail":         {"input", "output_format"},
	"merge":             {"input", "output_format"},
	"archive":           {"input", "output_format"},
	"metadata":          {"input"},
	"export/url":        {"input"},
}

// imageRef is the task a watermark's image option names ("" for none or
// a URL): the task runs after it, like after its inputs.
func imageRef(op string, def map[string]any) string {
	v, _ := def["image"].(string)
	if op != "watermark" || v == "" || strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://") {
		return ""
	}
	return v
}

// requiredFieldErrors checks def (a task's fields) for op; spooled says
// the "file" content was taken out of the body into the spool.
func requiredFieldErrors(op string, def map[string]any, spooled bool) map[string]string {
	out := map[string]string{}
	for _, f := range requiredFields[op] {
		v, present := def[f]
		switch {
		case f == "file" && spooled:
		case f == "input":
			if in, ok := inputList(v); ok && len(in) == 0 {
				out[f] = fmt.Sprintf("The input field is required for %s tasks.", op)
			}
		case !present || v == nil || v == "":
			out[f] = fmt.Sprintf("The %s field is required for %s tasks.", f, op)
		default:
			if _, ok := v.(string); !ok {
				out[f] = fmt.Sprintf("The %s field must be a string.", f)
			}
		}
	}
	return out
}

// short cuts a client-supplied value for an error message.
func short(v string) string {
	if len(v) <= 64 {
		return v
	}
	return truncateUTF8(v, 61) + "..."
}

// truncateUTF8 cuts s to at most n bytes on a character boundary.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (s *Server) cancelTask(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	var e *apiError
	ended := false
	s.write(func(b *batch) error {
		t := s.ownTask(id, c.user)
		if t == nil {
			e = errNotFound("Task")
			return nil
		}
		if t.ended() {
			e = errInvalid("The given data was invalid.", map[string][]string{"status": {"Cannot cancel: task already completed."}})
			return nil
		}
		if cancel := s.running[id]; cancel != nil {
			cancel()
		}
		failTask(t, CodeCancelled, "The task has been cancelled")
		b.task(t)
		b.ended = append(b.ended, id)
		ended = true
		return nil
	})
	if e != nil {
		c.fail(w, e)
		return
	}
	if ended {
		s.afterEnd(id)
	}
	s.respondTask(w, c, id, http.StatusOK)
}

func (s *Server) retryTask(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	var e *apiError
	var nt *Task
	err := s.write(func(b *batch) error {
		t := s.ownTask(id, c.user)
		if t == nil {
			e = errNotFound("Task")
			return nil
		}
		if !t.ended() {
			e = errInvalid("The given data was invalid.", map[string][]string{"status": {"Cannot retry: the task has not ended yet."}})
			return nil
		}
		nt = s.newTask(uuid.NewString(), t.Operation, t.Payload, append([]string{}, t.DependsOnTasks...), c.user, now())
		nt.Name, nt.JobID, nt.RetryOfTaskID = t.Name, t.JobID, strp(t.ID)
		if t.local.Inline {
			nt.local.Inline = s.linkSpool(t.ID, nt.ID) == nil
		}
		nt.local.Seq = s.nextSeq()
		s.addTask(nt)
		b.task(nt)
		if j := s.jobs[t.jobID()]; j != nil {
			t.local.RetriedBy = nt.ID
			b.task(t)
			j.Tasks = append(j.Tasks, nt)
			if j.Status == StatusFinished || j.Status == StatusError {
				j.Status, j.EndedAt = StatusProcessing, Time{}
			}
			b.job(j)
		}
		return nil
	})
	if e != nil {
		c.fail(w, e)
		return
	}
	if err != nil {
		c.fail(w, &apiError{Status: http.StatusInternalServerError, Code: "INTERNAL_ERROR", Message: "The task could not be stored"})
		return
	}
	s.reconcile(nt.ID)
	s.respondTask(w, c, nt.ID, http.StatusCreated)
}

func (s *Server) deleteTask(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	var t *Task
	var jobID string
	s.locked(func() {
		if t = s.ownTask(id, c.user); t == nil {
			return
		}
		jobID = t.jobID()
		s.removeTask(id)
		if j := s.jobs[jobID]; j != nil {
			for i, x := range j.Tasks {
				if x.ID == id {
					j.Tasks = append(j.Tasks[:i:i], j.Tasks[i+1:]...)
					break
				}
			}
		}
	})
	if t == nil {
		c.fail(w, errNotFound("Task"))
		return
	}
	if err := s.storeOp(func() error { return s.st.DeleteTask(r.Context(), id) }); err != nil {
		s.log.Warn("localserver: delete task", "task", id, "err", err)
	}
	s.removeSpool(id)
	var deps []string
	s.rlocked(func() { deps = append(deps, s.dependents[id]...) })
	for _, d := range deps {
		s.reconcile(d)
	}
	if jobID != "" {
		s.finishJobIfDone(jobID)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) deleteJob(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	var j *Job
	s.locked(func() {
		if j = s.ownJob(id, c.user); j == nil {
			return
		}
		delete(s.jobs, id)
		for _, t := range j.Tasks {
			s.removeTask(t.ID)
		}
		if ch, ok := s.waiters[id]; ok {
			close(ch)
			delete(s.waiters, id)
		}
	})
	if j == nil {
		c.fail(w, errNotFound("Job"))
		return
	}
	if err := s.storeOp(func() error { return s.st.DeleteJob(r.Context(), id) }); err != nil {
		s.log.Warn("localserver: delete job", "job", id, "err", err)
	}
	for _, t := range j.Tasks {
		s.removeSpool(t.ID)
	}
	w.WriteHeader(http.StatusNoContent)
}
