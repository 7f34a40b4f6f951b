package mcpserver

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cctoolkit/cloudconvert/luaruntime"
)

func TestLuaText(t *testing.T) {
	calls := func(spec ...string) []luaruntime.Call {
		var out []luaruntime.Call
		for _, s := range spec {
			fn, outcome, _ := strings.Cut(s, ":")
			out = append(out, luaruntime.Call{Function: fn, Outcome: outcome})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		res  luaruntime.Result
		want string
	}{
		{"nothing", luaruntime.Result{}, "(no output)\n"},
		{"output without newline", luaruntime.Result{Output: "hi"}, "Output:\nhi\n"},
		{"one value", luaruntime.Result{Values: []any{map[string]any{"a": 1}}}, "Result:\n{\n  \"a\": 1\n}\n"},
		{"two values", luaruntime.Result{Values: []any{1, "x"}}, "Result:\n[\n  1,\n  \"x\"\n]\n"},
		{"error", luaruntime.Result{Error: errors.New("boom")}, "Error: boom\n"},
		{"polling counted", luaruntime.Result{Calls: calls("c.create_job:ok", "c.get_job:ok", "c.get_job:ok", "c.get_job:ok", "c.get_job:api_error", "c.list_tasks:ok")},
			"Calls: c.create_job[ok] c.get_job[ok]×3 c.get_job[api_error] c.list_tasks[ok]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := luaText(&tc.res, "cloudconvert"); got != tc.want {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestCut(t *testing.T) {
	s := &Server{max: 10}
	for _, tc := range []struct {
		in   string
		keep string
	}{
		{"short", "short"},
		{"exactly 10", "exactly 10"},
		{"0123456789abc", "0123456789"},
		{"ééééééé", "ééééé"}, // 14 bytes: cut on a rune boundary
		{"123456789é", "123456789"},
	} {
		got := s.cut(tc.in, "x")
		body, note, cut := strings.Cut(got, "\n\n[output truncated:")
		if body != tc.keep || !utf8.ValidString(body) {
			t.Errorf("cut(%q) kept %q, want %q", tc.in, body, tc.keep)
		}
		if cut != (tc.in != tc.keep) || (cut && !strings.Contains(note, "x is")) {
			t.Errorf("cut(%q): note %q", tc.in, note)
		}
	}
}
