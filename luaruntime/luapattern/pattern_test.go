package luapattern

import (
	"errors"
	"strings"
	"testing"
)

func find(t *testing.T, pat, s string) (Match, bool) {
	t.Helper()
	p, err := Compile(pat, true)
	if err != nil {
		t.Fatalf("%q: %v", pat, err)
	}
	m, ok, err := NewMatcher(p, s, nil).Find(0)
	if err != nil {
		t.Fatalf("%q on %q: %v", pat, s, err)
	}
	return m, ok
}

func TestFind(t *testing.T) {
	cases := []struct {
		pat, s     string
		start, end int // -1: no match
		caps       []string
	}{
		{"b+", "abbbc", 1, 4, nil},
		{"(%w+)=(%w+)", "  k=v  ", 2, 5, []string{"k", "v"}},
		{"^a", "ba", -1, -1, nil},
		{"a$", "aba", 2, 3, nil},
		{"%bxy", "axxyyyb", 1, 5, nil},
		{"%f[%w]%w+", "  word", 2, 6, nil},
		{"(a)%1", "xaa", 1, 3, []string{"a"}},
		{"[%a-]+", "x-y z", 0, 3, nil},
		{".-b", "aaab", 0, 4, nil},
		{"a-$", "aaa", 0, 3, nil},
		{"()", "abc", 0, 0, []string{"@0"}},
	}
	for _, c := range cases {
		m, ok := find(t, c.pat, c.s)
		if !ok {
			if c.start >= 0 {
				t.Errorf("%q on %q: no match", c.pat, c.s)
			}
			continue
		}
		if m.Start != c.start || m.End != c.end {
			t.Errorf("%q on %q: [%d,%d), want [%d,%d)", c.pat, c.s, m.Start, m.End, c.start, c.end)
		}
		var caps []string
		for _, cp := range m.Captures {
			if cp.IsPosition {
				caps = append(caps, "@"+string(rune('0'+cp.Start)))
			} else {
				caps = append(caps, c.s[cp.Start:cp.End])
			}
		}
		if strings.Join(caps, ",") != strings.Join(c.caps, ",") {
			t.Errorf("%q on %q: captures %v, want %v", c.pat, c.s, caps, c.caps)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	cases := map[string]string{
		"%":                                  "malformed pattern (ends with '%')",
		"[a":                                 "malformed pattern (missing ']')",
		"[]":                                 "malformed pattern (missing ']')",
		"[a%]":                               "malformed pattern (missing ']')",
		"%b(":                                "unbalanced pattern",
		"%fx":                                "missing '[' after '%f' in pattern",
		"(a":                                 "unfinished capture",
		"a)":                                 "invalid pattern capture",
		"%1":                                 "invalid capture index",
		"(a%1)":                              "invalid capture index",
		"%0":                                 "invalid capture index",
		strings.Repeat("(a)", 33):            "too many captures",
		strings.Repeat("()", 33):             "too many captures",
		"(" + strings.Repeat("()", 31) + ")": "",
	}
	for pat, want := range cases {
		_, err := Compile(pat, true)
		if want == "" {
			if err != nil {
				t.Errorf("%q: %v", pat, err)
			}
			continue
		}
		var pe *Error
		if !errors.As(err, &pe) || pe.Msg != want {
			t.Errorf("%q: error %v, want %q", pat, err, want)
		}
	}
}

// TestCheckStopsMatching: a backtracking explosion calls check every few
// thousand steps and stops with its error.
func TestCheckStopsMatching(t *testing.T) {
	stop := errors.New("time is up")
	calls := 0
	check := func() error {
		calls++
		if calls == 100 {
			return stop
		}
		return nil
	}
	for _, pat := range []string{".-.-.-b", "^(.-)(.-)(.-)b$", "a*a*a*a*b", "%f[a](a-)(a-)(a-)b"} {
		calls = 0
		p, err := Compile(pat, true)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = NewMatcher(p, strings.Repeat("a", 5000), check).Find(0)
		if !errors.Is(err, stop) || calls != 100 {
			t.Errorf("%q: error %v after %d checks", pat, err, calls)
		}
	}
}

// TestTooComplex: recursion is bounded by MaxDepth, whatever the
// pattern's length.
func TestTooComplex(t *testing.T) {
	p, err := Compile(strings.Repeat("a?", 3*MaxDepth)+"b", true)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = NewMatcher(p, strings.Repeat("a", 3*MaxDepth), nil).Find(0)
	if !errors.Is(err, ErrTooComplex) {
		t.Fatalf("error %v", err)
	}
	p, _ = Compile(strings.Repeat("a?", MaxDepth/2), true)
	if _, ok, err := NewMatcher(p, strings.Repeat("a", MaxDepth), nil).Find(0); err != nil || !ok {
		t.Fatalf("%v %v", ok, err)
	}
}

// FuzzMatch: any pattern on any subject either fails to compile or
// matches within bounds, without panicking, in bounded steps.
func FuzzMatch(f *testing.F) {
	for _, seed := range [][2]string{
		{"(%w+)=(%w+)", "a=b"}, {"%b()", "(()"}, {"%f[%a]", "x"}, {"[^]%-a]+", "]-a"}, {"(()(.-)%2)", "abab"},
		{".-.-.-b", "aaaaaaaaaaaa"}, {"^$", ""}, {"[%", "%"}, {"%1", "x"}, {"x-$", "xxx"},
	} {
		f.Add(seed[0], seed[1], true)
	}
	f.Fuzz(func(t *testing.T, pat, s string, anchor bool) {
		p, err := Compile(pat, anchor)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("compile error of type %T", err)
			}
			return
		}
		checks := 0
		budget := errors.New("budget")
		m, ok, err := NewMatcher(p, s, func() error {
			checks++
			if checks > 20 {
				return budget
			}
			return nil
		}).Find(0)
		if err != nil {
			if !errors.Is(err, budget) && !errors.Is(err, ErrTooComplex) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if !ok {
			return
		}
		if m.Start < 0 || m.Start > m.End || m.End > len(s) {
			t.Fatalf("match [%d,%d) of %d bytes", m.Start, m.End, len(s))
		}
		for _, c := range m.Captures {
			if c.Start < 0 || c.Start > c.End || c.End > len(s) {
				t.Fatalf("capture [%d,%d) of %d bytes", c.Start, c.End, len(s))
			}
		}
	})
}
