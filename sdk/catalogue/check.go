package catalogue

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/cctoolkit/cloudconvert/internal/suggest"
)

// Task is a task to check: its operation, its formats when they are known,
// and its fields as they will be sent.
type Task struct {
	// Name is the task's name in its job; "" for a standalone task.
	Name      string
	Operation string
	// InputFormat is the format of the task's input: its own input_format
	// (InputGiven), or the one its input task makes, or "" when unknown.
	InputFormat string
	InputGiven  bool
	// OutputFormat is the task's output_format, "" when not given.
	OutputFormat string
	// Fields are the task's fields as sent (operation and input included).
	Fields map[string]any
}

// Error is a task the catalogue says the server will not perform as
// given. Nothing was sent.
type Error struct {
	Task  string // the task's name in its job; "" for a standalone task
	Field string // the option, or operation, input_format, output_format
	// Message says what is wrong and what the server takes instead.
	Message string
	// Catalogue is the URL of the list the task was checked against.
	Catalogue string
}

func (e *Error) Error() string {
	if e.Task != "" {
		return fmt.Sprintf("task %q: %s", e.Task, e.Detail())
	}
	return e.Detail()
}

// Detail is the message with the catalogue it comes from, without the
// task's name.
func (e *Error) Detail() string {
	if e.Catalogue == "" {
		return e.Message
	}
	return e.Message + " (checked before sending against the operations catalogue, GET " + e.Catalogue + ")"
}

// structural fields are the task's shape, not options of its operation.
var structural = map[string]bool{"operation": true, "input": true, "input_format": true, "output_format": true, "options": true}

// taskLevel fields are taken by every operation of the API. A catalogue
// that lists them nowhere (it describes the engines' own options only) is
// not asked about them.
var taskLevel = []string{"engine", "engine_version", "filename", "timeout"}

// Check returns the first task the catalogue refuses, or nil. An
// operation the catalogue does not list is not checked (a catalogue may
// leave out imports and exports).
func (c *Catalogue) Check(tasks []Task) *Error {
	for _, t := range tasks {
		if e := c.checkTask(t); e != nil {
			e.Task, e.Catalogue = t.Name, c.URL
			return e
		}
	}
	return nil
}

func (c *Catalogue) checkTask(t Task) *Error {
	var entries []*Operation
	for i := range c.Operations {
		if c.Operations[i].Operation == t.Operation {
			entries = append(entries, &c.Operations[i])
		}
	}
	if len(entries) == 0 {
		return nil
	}
	in, out := NormalizeFormat(t.InputFormat), NormalizeFormat(t.OutputFormat)
	if in != "" {
		sel := filterOps(entries, func(o *Operation) bool { return o.InputFormat == in || o.InputFormat == "*" })
		switch {
		case len(sel) > 0:
			entries = sel
		case t.InputGiven:
			return &Error{Field: "input_format", Message: fmt.Sprintf("%s does not take %s files%s; it takes: %s",
				t.Operation, in, suggest.DidYouMean(in, inputs(entries)), strings.Join(inputs(entries), ", "))}
		default:
			// A name the catalogue does not know: the server looks at
			// the file's content.
			in = ""
		}
	}
	if out != "" {
		sel := filterOps(entries, func(o *Operation) bool { return o.OutputFormat == out })
		if len(sel) == 0 {
			targets := outputs(entries)
			from := ""
			if in != "" {
				from = " from " + in
			}
			if len(targets) == 0 {
				return &Error{Field: "output_format", Message: fmt.Sprintf("%s%s makes no file, so it takes no output_format", t.Operation, from)}
			}
			return &Error{Field: "output_format", Message: fmt.Sprintf("%s%s to %s is not supported%s; %s%s makes: %s",
				t.Operation, from, out, suggest.DidYouMean(out, targets), t.Operation, from, strings.Join(targets, ", "))}
		}
		entries = sel
	}
	avail := filterOps(entries, (*Operation).IsAvailable)
	if len(avail) == 0 {
		note := entries[0].Note
		if note == "" {
			note = "the server lists it as unavailable"
		}
		return &Error{Field: "operation", Message: fmt.Sprintf("%s is not available on this server: %s", where(t.Operation, in, out), note)}
	}
	return c.checkOptions(t, avail, where(t.Operation, in, out))
}

func filterOps(ops []*Operation, keep func(*Operation) bool) []*Operation {
	var out []*Operation
	for _, o := range ops {
		if keep(o) {
			out = append(out, o)
		}
	}
	return out
}

func inputs(ops []*Operation) []string {
	var l []string
	for _, o := range ops {
		if o.InputFormat != "" && o.InputFormat != "*" {
			l = append(l, o.InputFormat)
		}
	}
	slices.Sort(l)
	return slices.Compact(l)
}

func outputs(ops []*Operation) []string {
	var l []string
	for _, o := range ops {
		if o.OutputFormat != "" && o.OutputFormat != "*" {
			l = append(l, o.OutputFormat)
		}
	}
	slices.Sort(l)
	return slices.Compact(l)
}

// lists reports whether any operation of the catalogue has the option.
func (c *Catalogue) lists(name string) bool {
	for i := range c.Operations {
		if c.Operations[i].Option(name) != nil {
			return true
		}
	}
	return false
}

// options flattens a task's fields the way the servers read them: the
// top-level fields, and those of a nested "options" object the top level
// does not have.
func options(fields map[string]any) map[string]any {
	opts := map[string]any{}
	for k, v := range fields {
		if !structural[k] {
			opts[k] = v
		}
	}
	if nested, ok := fields["options"].(map[string]any); ok {
		for k, v := range nested {
			if _, taken := opts[k]; !taken && !structural[k] {
				opts[k] = v
			}
		}
	}
	return opts
}

func (c *Catalogue) checkOptions(t Task, ops []*Operation, what string) *Error {
	var known []string
	for _, o := range ops {
		for _, opt := range o.Options {
			known = append(known, opt.Name)
		}
	}
	slices.Sort(known)
	known = slices.Compact(known)
	opts := options(t.Fields)
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(known, k) {
			if slices.Contains(taskLevel, k) && !c.lists(k) {
				continue
			}
			list := "it takes no options"
			if len(known) > 0 {
				list = "its options: " + strings.Join(known, ", ")
			}
			return &Error{Field: k, Message: fmt.Sprintf("%q is not an option of %s%s; %s", short(k), what, suggest.DidYouMean(k, known), list)}
		}
		var first string
		ok := false
		for _, o := range ops {
			opt := o.Option(k)
			if opt == nil {
				continue
			}
			msg := checkValue(opt, opts[k])
			if msg == "" {
				ok = true
				break
			}
			if first == "" {
				first = msg
			}
		}
		if !ok {
			return &Error{Field: k, Message: fmt.Sprintf("option %s of %s %s", k, what, first)}
		}
	}
	// An option every candidate requires must be given.
	for _, opt := range ops[0].Options {
		if !opt.Required || structural[opt.Name] {
			continue
		}
		all := true
		for _, o := range ops[1:] {
			if x := o.Option(opt.Name); x == nil || !x.Required {
				all = false
			}
		}
		if v, given := opts[opt.Name]; all && (!given || v == nil || v == "") {
			msg := fmt.Sprintf("%s needs the option %s", what, opt.Name)
			if opt.Description != "" {
				msg += ": " + opt.Description
			}
			return &Error{Field: opt.Name, Message: msg}
		}
	}
	return nil
}

// checkValue says what is wrong with v for opt ("" when nothing is). It is
// lenient where the servers are (numbers as strings, "true" for true) and
// leaves types it does not know to the server.
func checkValue(opt *Option, v any) string {
	if v == nil {
		return ""
	}
	_, isMap := v.(map[string]any)
	_, isList := v.([]any)
	switch strings.ToLower(opt.Type) {
	case "integer", "float", "number":
		n, ok := number(v)
		if !ok || (opt.Type == "integer" && n != math.Trunc(n)) {
			return fmt.Sprintf("must be %s, got %s", article(opt.Type), describe(v))
		}
		if (opt.Minimum != nil && n < *opt.Minimum) || (opt.Maximum != nil && n > *opt.Maximum) {
			return fmt.Sprintf("must be between %s and %s, got %s", bound(opt.Minimum, "-∞"), bound(opt.Maximum, "∞"), scalarText(v))
		}
	case "boolean":
		switch x := v.(type) {
		case bool:
		case string:
			if _, err := strconv.ParseBool(strings.TrimSpace(x)); err != nil {
				return fmt.Sprintf("must be true or false, got %s", describe(v))
			}
		default:
			return fmt.Sprintf("must be true or false, got %s", describe(v))
		}
	case "enum":
		if isMap || isList {
			return fmt.Sprintf("must be one of %s, got %s", strings.Join(opt.PossibleValues, ", "), describe(v))
		}
		if len(opt.PossibleValues) > 0 && !inValues(scalarText(v), opt.PossibleValues) {
			s := scalarText(v)
			return fmt.Sprintf("must be one of %s, got %q%s", strings.Join(opt.PossibleValues, ", "), short(s), suggest.DidYouMean(s, opt.PossibleValues))
		}
	case "dictionary", "object":
		if !isMap {
			return fmt.Sprintf("must be an object of names and values, got %s", describe(v))
		}
	case "array":
		if !isList {
			return fmt.Sprintf("must be an array, got %s", describe(v))
		}
	case "string":
		if isMap || isList {
			return fmt.Sprintf("must be a string, got %s", describe(v))
		}
	}
	return ""
}

// inValues compares as the servers do: as text, and as numbers when both
// read as numbers ("+90" is 90).
func inValues(s string, values []string) bool {
	if slices.Contains(values, s) {
		return true
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return false
	}
	for _, v := range values {
		if m, err := strconv.ParseFloat(v, 64); err == nil && m == n {
			return true
		}
	}
	return false
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

func article(typ string) string {
	if typ == "integer" {
		return "an integer"
	}
	return "a number"
}

func bound(b *float64, none string) string {
	if b == nil {
		return none
	}
	return scalarText(*b)
}

func describe(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(short(x))
	case bool:
		return strconv.FormatBool(x)
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return scalarText(v)
}

func short(s string) string {
	if len(s) > 64 {
		return strings.ToValidUTF8(s[:61], "") + "..."
	}
	return s
}
