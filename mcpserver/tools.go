package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/luaruntime"
)

// addRuntimeTools adds the runtime's agent tools (execute_lua,
// lua_list_docs, lua_search_docs, lua_read_doc) with the runtime's names,
// descriptions and schemas.
func (s *Server) addRuntimeTools() error {
	for _, rtool := range s.rt.Tools() {
		var schema map[string]any
		if err := json.Unmarshal(rtool.InputSchema, &schema); err != nil {
			return fmt.Errorf("runtime tool %s: bad input schema: %v", rtool.Name, err)
		}
		check, err := newArgChecker(rtool.Name, rtool.InputSchema)
		if err != nil {
			return err
		}
		t := &mcp.Tool{Name: rtool.Name, Description: rtool.Description, InputSchema: schema}
		var h func(context.Context, json.RawMessage) *mcp.CallToolResult
		if rtool.Name == "execute_lua" {
			if s.WritesAllowed() {
				t.Annotations = &mcp.ToolAnnotations{DestructiveHint: ptr(true)}
			} else {
				// Under the policy the script can only read.
				t.Annotations = &mcp.ToolAnnotations{ReadOnlyHint: true}
			}
			h = s.executeLua
		} else {
			t.Annotations = &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: ptr(false)}
			handle := rtool.Handle
			h = func(ctx context.Context, args json.RawMessage) *mcp.CallToolResult {
				text, err := handle(ctx, args)
				if err != nil {
					return s.errorResult(map[string]any{"kind": "invalid_argument", "message": err.Error()}, "")
				}
				return textResult(s.cut(text, "the page"), nil)
			}
		}
		name := rtool.Name
		s.addTool(t, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			args := req.Params.Arguments
			if err := check(args); err != nil {
				return s.errorResult(map[string]any{"kind": "invalid_argument", "function": name, "param": err.param, "message": err.msg, "text": name + ": " + err.Error()}, ""), nil
			}
			if len(bytes.TrimSpace(args)) == 0 || string(bytes.TrimSpace(args)) == "null" {
				args = json.RawMessage("{}")
			}
			if name == "execute_lua" {
				// The script's calls may ask the client (--write=ask).
				return s.runAskable(ctx, req, args, h), nil
			}
			return h(ctx, args), nil
		}, true)
	}
	return nil
}

func (s *Server) executeLua(ctx context.Context, args json.RawMessage) *mcp.CallToolResult {
	var a struct {
		Code string `json:"code"`
	}
	json.Unmarshal(args, &a) // checked by the arg checker
	res := s.rt.Execute(ctx, a.Code)
	env := res.Envelope()
	text := s.rt.Redact(luaText(res, s.in.Slug))
	var structured any
	if b, err := json.Marshal(env); err == nil && len(b) <= s.max {
		json.Unmarshal([]byte(s.rt.Redact(string(b))), &structured)
	}
	r := textResult(s.cut(text, "the script's report (its structured content is left out too)"), structured)
	r.IsError = res.Error != nil
	return r
}

// luaText renders a script's outcome like the runtime's ExecuteLua.
func luaText(res *luaruntime.Result, slug string) string {
	var b strings.Builder
	if res.Output != "" {
		b.WriteString("Output:\n" + res.Output)
		if !strings.HasSuffix(res.Output, "\n") {
			b.WriteByte('\n')
		}
	}
	switch len(res.Values) {
	case 0:
	case 1:
		b.WriteString("Result:\n" + indentJSON(res.Values[0]) + "\n")
	default:
		b.WriteString("Result:\n" + indentJSON(res.Values) + "\n")
	}
	if res.Error != nil {
		b.WriteString("Error: " + res.Error.Error() + "\n")
		if be, ok := integration.AsError(res.Error); ok && be.Kind == integration.KindArgument {
			fmt.Fprintf(&b, "Hint: lua_read_doc(%q) shows the parameters.\n", slug+"."+be.Function)
		}
	}
	if len(res.Calls) > 0 {
		// Runs of the same call (a polling loop) are counted, not repeated.
		b.WriteString("Calls:")
		for i := 0; i < len(res.Calls); {
			c, n := res.Calls[i], 1
			for i+n < len(res.Calls) && res.Calls[i+n].Function == c.Function && res.Calls[i+n].Outcome == c.Outcome {
				n++
			}
			fmt.Fprintf(&b, " %s[%s]", c.Function, c.Outcome)
			if n > 1 {
				fmt.Fprintf(&b, "×%d", n)
			}
			i += n
		}
		b.WriteByte('\n')
	}
	if b.Len() == 0 {
		b.WriteString("(no output)\n")
	}
	return b.String()
}

// newArgChecker checks arguments against a flat object schema whose
// properties are scalars (what the runtime's tools take): unknown names,
// missing required ones, and wrong JSON types are errors naming the
// parameter.
func newArgChecker(tool string, schemaJSON json.RawMessage) (func(json.RawMessage) *argError, error) {
	var schema struct {
		Properties map[string]struct {
			Type string `json:"type"`
		} `json:"properties"`
		Required             []string `json:"required"`
		AdditionalProperties *bool    `json:"additionalProperties"`
	}
	if err := json.Unmarshal(schemaJSON, &schema); err != nil {
		return nil, fmt.Errorf("runtime tool %s: bad input schema: %v", tool, err)
	}
	names := make([]string, 0, len(schema.Properties))
	for n := range schema.Properties {
		names = append(names, n)
	}
	slices.Sort(names)
	strict := schema.AdditionalProperties != nil && !*schema.AdditionalProperties
	return func(raw json.RawMessage) *argError {
		args := map[string]json.RawMessage{}
		if t := bytes.TrimSpace(raw); len(t) > 0 && string(t) != "null" {
			if t[0] != '{' {
				return &argError{msg: "the arguments must be a JSON object, got " + jsonKind(t)}
			}
			if err := json.Unmarshal(t, &args); err != nil {
				return &argError{msg: "the arguments are not valid JSON: " + err.Error()}
			}
		}
		keys := make([]string, 0, len(args))
		for k := range args {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p, ok := schema.Properties[k]
			if !ok {
				if strict {
					known := "it takes no parameters"
					if len(names) > 0 {
						known = "parameters: " + strings.Join(names, ", ")
					}
					return &argError{param: k, msg: "unknown parameter; " + known}
				}
				continue
			}
			if want := p.Type; want != "" && jsonType(args[k]) != want && !(want == "number" && jsonType(args[k]) == "integer") {
				return &argError{param: k, msg: fmt.Sprintf("must be %s %s, got %s", article(want), want, jsonKind(args[k]))}
			}
		}
		for _, r := range schema.Required {
			if _, ok := args[r]; !ok {
				return &argError{param: r, msg: "missing required parameter"}
			}
		}
		return nil
	}, nil
}

// jsonType is the JSON Schema type of a JSON value.
func jsonType(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return ""
	}
	switch v[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	if bytes.ContainsAny(v, ".eE") {
		return "number"
	}
	return "integer"
}

func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}
