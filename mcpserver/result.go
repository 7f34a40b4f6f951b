package mcpserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// dataResult is a successful call: the API's JSON as structured content
// and, indented, as text. Past MaxOutput the text is cut with a note and
// the structured content left out.
func (s *Server) dataResult(data json.RawMessage, status int) *mcp.CallToolResult {
	if len(bytes.TrimSpace(data)) == 0 {
		return textResult(fmt.Sprintf("(no content; HTTP status %d)", status), nil)
	}
	data = json.RawMessage(s.rt.Redact(string(data)))
	var text bytes.Buffer
	if err := json.Indent(&text, data, "", "  "); err != nil {
		return textResult(s.cut(string(data), "the response"), nil)
	}
	if text.Len() > s.max {
		return textResult(s.cut(text.String(), "the response (its structured content is left out too)"), nil)
	}
	var structured any
	if err := json.Unmarshal(data, &structured); err != nil {
		return textResult(text.String(), nil)
	}
	return textResult(text.String(), structured)
}

// cut shortens text to MaxOutput bytes (on a rune boundary) and says so.
func (s *Server) cut(text, what string) string {
	if len(text) <= s.max {
		return text
	}
	n := s.max
	for n > 0 && !utf8.RuneStart(text[n]) {
		n--
	}
	return text[:n] + fmt.Sprintf("\n\n[output truncated: %s is %d bytes; only the first %d are shown (the server's --max-output). Ask for less (filters, page/per_page) or use execute_lua to pick out the fields you need.]", what, len(text), n)
}

func textResult(text string, structured any) *mcp.CallToolResult {
	r := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}
	if structured != nil {
		r.StructuredContent = structured
	}
	return r
}

// errorResult is a tool error: the error's fields as structured content
// ({"error": {...}}) and its text, with an optional hint.
func (s *Server) errorResult(fields map[string]any, hint string) *mcp.CallToolResult {
	if p, ok := fields["param"]; ok && p == "" {
		delete(fields, "param")
	}
	text, _ := fields["text"].(string)
	if text == "" {
		text, _ = fields["message"].(string)
		fields["text"] = text
	}
	text = "Error: " + text
	if hint != "" {
		text += "\n" + hint
	}
	// Redact through JSON, so nested messages (errors) are covered too.
	b, _ := json.Marshal(map[string]any{"error": fields})
	var structured any
	json.Unmarshal([]byte(s.rt.Redact(string(b))), &structured)
	r := textResult(s.cut(s.rt.Redact(text), "the error"), structured)
	r.IsError = true
	return r
}

// indentJSON renders v as indented JSON text.
func indentJSON(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
