package catalogue

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// JobTasks reads the tasks of a create-job body ({"tasks": {"name":
// {...}}}, or the tasks as an array) in their order, with each task's
// input format derived where the job says it: its own input_format, else
// the format its one input task makes (an import's file name, a convert's
// output_format, ...).
func JobTasks(body []byte) ([]Task, error) {
	var job struct {
		Tasks json.RawMessage `json:"tasks"`
	}
	if err := json.Unmarshal(body, &job); err != nil {
		return nil, fmt.Errorf("the job is not a JSON object: %w", err)
	}
	names, defs, err := taskDefs(job.Tasks)
	if err != nil {
		return nil, err
	}
	d := &deriver{defs: defs, cache: map[string]string{}, busy: map[string]bool{}}
	tasks := make([]Task, 0, len(names))
	for _, n := range names {
		def := defs[n]
		t := Task{Name: n, Operation: str(def["operation"]), OutputFormat: str(def["output_format"]), Fields: def}
		if f := str(def["input_format"]); f != "" {
			t.InputFormat, t.InputGiven = f, true
		} else if in := inputNames(def["input"]); len(in) == 1 {
			t.InputFormat = d.made(in[0])
		}
		tasks = append(tasks, t)
	}
	return tasks, nil
}

// TaskOf reads a standalone task: its operation (from the URL path) and
// its body. Its input is a task ID, so only its own input_format is known.
func TaskOf(operation string, body []byte) (Task, error) {
	var fields map[string]any
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &fields); err != nil {
			return Task{}, fmt.Errorf("the task is not a JSON object: %w", err)
		}
	}
	t := Task{Operation: operation, OutputFormat: str(fields["output_format"]), Fields: fields}
	if f := str(fields["input_format"]); f != "" {
		t.InputFormat, t.InputGiven = f, true
	}
	return t, nil
}

// taskDefs reads the tasks in order: an object keyed by name, or an array
// of objects with an optional name.
func taskDefs(raw json.RawMessage) ([]string, map[string]map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	defs := map[string]map[string]any{}
	var names []string
	switch {
	case len(raw) > 0 && raw[0] == '[':
		var list []map[string]any
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, nil, fmt.Errorf("tasks: %w", err)
		}
		for i, def := range list {
			n := str(def["name"])
			if n == "" {
				n = fmt.Sprintf("tasks[%d]", i)
			}
			delete(def, "name") // the task's key, not a field
			names = append(names, n)
			defs[n] = def
		}
	case len(raw) > 0 && raw[0] == '{':
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.Token() // {
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, nil, fmt.Errorf("tasks: %w", err)
			}
			name, _ := tok.(string)
			var def map[string]any
			if err := dec.Decode(&def); err != nil {
				return nil, nil, fmt.Errorf("tasks.%s: %w", name, err)
			}
			if _, dup := defs[name]; !dup {
				names = append(names, name)
			}
			defs[name] = def
		}
	default:
		return nil, nil, fmt.Errorf("tasks: want an object of tasks keyed by name")
	}
	return names, defs, nil
}

// deriver works out the format a task of the job makes.
type deriver struct {
	defs  map[string]map[string]any
	cache map[string]string
	busy  map[string]bool
}

// made is the format the task called name makes, "" when unknown. Each
// task is looked at once (busy guards a cycle, which the API refuses).
func (d *deriver) made(name string) string {
	if f, ok := d.cache[name]; ok {
		return f
	}
	def := d.defs[name]
	if def == nil || d.busy[name] {
		return ""
	}
	d.busy[name] = true
	f := ""
	op := str(def["operation"])
	switch {
	case strings.HasPrefix(op, "import/"):
		f = FormatOfName(str(def["filename"]))
		if f == "" && op == "import/url" {
			if u, err := url.Parse(str(def["url"])); err == nil {
				f = FormatOfName(u.Path)
			}
		}
	case op == "convert", op == "thumbnail", op == "merge", op == "archive", op == "capture-website":
		f = NormalizeFormat(str(def["output_format"]))
	case strings.HasPrefix(op, "pdf/"), op == "metadata/write":
		f = "pdf"
	case op == "optimize", op == "watermark":
		if f = NormalizeFormat(str(def["input_format"])); f == "" {
			if in := inputNames(def["input"]); len(in) == 1 {
				f = d.made(in[0])
			}
		}
	}
	d.cache[name] = f
	return f
}

// inputNames reads a task's input: a name or a list of names.
func inputNames(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func str(v any) string {
	s, _ := v.(string)
	return strings.TrimSpace(s)
}
