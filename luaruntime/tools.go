package luaruntime

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cctoolkit/cloudconvert/integration"
)

// Tool is an agent tool the host offers (for MCP servers and chat hosts).
type Tool struct {
	Name        string
	Description string
	InputSchema json.RawMessage
	// Handle runs the tool with JSON arguments and returns its text.
	Handle func(ctx context.Context, args json.RawMessage) (string, error)
}

// Tools returns execute_lua, lua_list_docs, lua_search_docs and lua_read_doc.
func (r *Runtime) Tools() []Tool {
	return []Tool{
		{
			Name:        "execute_lua",
			Description: fmt.Sprintf("Run a Lua script with %s.* available. Returns the printed output, the returned values and the error, if any.", r.in.LuaPath),
			InputSchema: json.RawMessage(`{"type":"object","properties":{"code":{"type":"string","description":"The Lua code to run"}},"required":["code"],"additionalProperties":false}`),
			Handle: func(ctx context.Context, args json.RawMessage) (string, error) {
				var a struct{ Code string }
				if err := json.Unmarshal(args, &a); err != nil || a.Code == "" {
					return "", fmt.Errorf("execute_lua needs {\"code\": \"...\"}")
				}
				return r.ExecuteLua(ctx, a.Code), nil
			},
		},
		{
			Name:        "lua_list_docs",
			Description: "List the Lua API docs pages.",
			InputSchema: json.RawMessage(`{"type":"object","properties":{},"additionalProperties":false}`),
			Handle: func(context.Context, json.RawMessage) (string, error) {
				return r.ListDocsText(), nil
			},
		},
		{
			Name:        "lua_search_docs",
			Description: "Search the Lua API docs.",
			InputSchema: json.RawMessage(`{"type":"object","properties":{"query":{"type":"string"}},"required":["query"],"additionalProperties":false}`),
			Handle: func(_ context.Context, args json.RawMessage) (string, error) {
				var a struct{ Query string }
				if err := json.Unmarshal(args, &a); err != nil {
					return "", fmt.Errorf("lua_search_docs needs {\"query\": \"...\"}")
				}
				return r.SearchDocsText(a.Query), nil
			},
		},
		{
			Name:        "lua_read_doc",
			Description: fmt.Sprintf("Read a Lua API docs page, e.g. {\"page\": %q}; lua_list_docs lists the pages.", "integrations."+r.in.Slug),
			InputSchema: json.RawMessage(`{"type":"object","properties":{"page":{"type":"string","description":"The page, e.g. integrations.` + r.in.Slug + `, ` + r.in.Slug + `.errors or a function name"},"name":{"type":"string","description":"The same as page (its older name)"}},"additionalProperties":false}`),
			Handle: func(_ context.Context, args json.RawMessage) (string, error) {
				var a struct{ Page, Name string }
				if err := json.Unmarshal(args, &a); err != nil {
					return "", fmt.Errorf("lua_read_doc needs {\"page\": \"...\"}")
				}
				switch {
				case a.Page == "" && a.Name == "":
					return "", fmt.Errorf("lua_read_doc needs the page, as {\"page\": \"...\"}; lua_list_docs lists the pages")
				case a.Page != "" && a.Name != "" && a.Page != a.Name:
					return "", fmt.Errorf("lua_read_doc got page %q and name %q; give one (page)", a.Page, a.Name)
				case a.Page == "":
					a.Page = a.Name
				}
				return r.ReadDoc(a.Page)
			},
		},
	}
}

// ExecuteLua is the execute_lua tool: it runs code and reports in text.
func (r *Runtime) ExecuteLua(ctx context.Context, code string) string {
	res := r.Execute(ctx, code)
	var b strings.Builder
	if res.Output != "" {
		b.WriteString("Output:\n" + res.Output)
		if !strings.HasSuffix(res.Output, "\n") {
			b.WriteByte('\n')
		}
	}
	if len(res.Values) > 0 {
		js, _ := json.MarshalIndent(res.Values, "", "  ")
		if len(res.Values) == 1 {
			js, _ = json.MarshalIndent(res.Values[0], "", "  ")
		}
		b.WriteString("Result:\n" + string(js) + "\n")
	}
	if res.Error != nil {
		b.WriteString("Error: " + res.Error.Error() + "\n")
		if be, ok := integration.AsError(res.Error); ok && be.Kind == integration.KindArgument {
			b.WriteString(fmt.Sprintf("Hint: lua_read_doc(%q) shows the parameters.\n", r.in.Slug+"."+be.Function))
		}
	}
	if b.Len() == 0 {
		b.WriteString("(no output)\n")
	}
	return b.String()
}
