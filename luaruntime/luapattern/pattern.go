// Package luapattern matches Lua 5.1 patterns (the language of
// string.find, match, gmatch and gsub) with a step budget: every few
// thousand steps of backtracking it calls a check function, so a
// catastrophic pattern such as '.-.-.-b' on a long subject stops when the
// caller's time limit runs out instead of running for hours.
//
// A pattern is parsed once into items and checked completely before any
// matching, so a malformed pattern is always an error (Lua 5.1 reports
// some only when the matcher reaches them). The matcher backtracks like
// Lua's: its recursion depth is bounded by the number of pattern items
// (at most MaxDepth), never by the subject's length.
package luapattern

import "errors"

// MaxCaptures is the most captures a pattern may have (Lua's
// LUA_MAXCAPTURES).
const MaxCaptures = 32

// MaxDepth bounds how deeply the matcher recurses: a pattern needing more
// is "too complex". Each quantified item, capture and %b/%f adds at most
// one level, so only patterns of thousands of items reach it.
const MaxDepth = 2000

// checkEvery is how many steps the matcher takes between two calls of
// the check function.
const checkEvery = 1 << 12

// ErrTooComplex is returned when matching would recurse deeper than
// MaxDepth.
var ErrTooComplex = errors.New("pattern too complex")

// Error is a malformed pattern.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

type kind uint8

const (
	single   kind = iota // one character class with an optional quantifier
	open                 // (
	position             // ()
	closeCap             // )
	balance              // %bxy
	frontier             // %f[set]
	backref              // %1 .. %9
	atEnd                // $ as the pattern's last character
)

// set is a set of bytes, one bit each.
type set [8]uint32

func (s *set) has(c byte) bool { return s[c>>5]&(1<<(c&31)) != 0 }
func (s *set) add(c byte)      { s[c>>5] |= 1 << (c & 31) }
func (s *set) addRange(lo, hi byte) {
	for c := int(lo); c <= int(hi); c++ {
		s.add(byte(c))
	}
}
func (s *set) invert() {
	for i := range s {
		s[i] = ^s[i]
	}
}

type item struct {
	kind  kind
	quant byte // 0, '?', '*', '+' or '-' for single
	set   set  // single and frontier
	a, b  byte // balance
	n     int  // backref: capture index (0-based)
}

// Pattern is a parsed pattern.
type Pattern struct {
	items    []item
	anchored bool // started with ^ (and anchoring was asked for)
	captures int
}

// Anchored reports whether the pattern started with ^.
func (p *Pattern) Anchored() bool { return p.anchored }

// Compile parses a pattern. When anchor is true a leading ^ anchors the
// match at the start position (find, match, gsub); gmatch passes false,
// and there ^ is an ordinary character, as in Lua 5.1.
func Compile(pat string, anchor bool) (*Pattern, error) {
	p := &Pattern{}
	i := 0
	if anchor && len(pat) > 0 && pat[0] == '^' {
		p.anchored = true
		i = 1
	}
	var stack []int // indexes of open captures not yet closed
	closed := make([]bool, 0, MaxCaptures)
	for i < len(pat) {
		c := pat[i]
		switch {
		case c == '(':
			if p.captures >= MaxCaptures {
				return nil, &Error{"too many captures"}
			}
			if i+1 < len(pat) && pat[i+1] == ')' {
				p.items = append(p.items, item{kind: position})
				closed = append(closed, true)
				p.captures++
				i += 2
				continue
			}
			p.items = append(p.items, item{kind: open})
			stack = append(stack, p.captures)
			closed = append(closed, false)
			p.captures++
			i++
			continue
		case c == ')':
			if len(stack) == 0 {
				return nil, &Error{"invalid pattern capture"}
			}
			closed[stack[len(stack)-1]] = true
			stack = stack[:len(stack)-1]
			p.items = append(p.items, item{kind: closeCap})
			i++
			continue
		case c == '$' && i == len(pat)-1:
			p.items = append(p.items, item{kind: atEnd})
			i++
			continue
		case c == '%' && i+1 < len(pat) && pat[i+1] == 'b':
			if i+3 >= len(pat) {
				return nil, &Error{"unbalanced pattern"}
			}
			p.items = append(p.items, item{kind: balance, a: pat[i+2], b: pat[i+3]})
			i += 4
			continue
		case c == '%' && i+1 < len(pat) && pat[i+1] == 'f':
			i += 2
			if i >= len(pat) || pat[i] != '[' {
				return nil, &Error{"missing '[' after '%f' in pattern"}
			}
			it := item{kind: frontier}
			end, err := parseSet(pat, i, &it.set)
			if err != nil {
				return nil, err
			}
			p.items = append(p.items, it)
			i = end
			continue
		case c == '%' && i+1 < len(pat) && pat[i+1] >= '0' && pat[i+1] <= '9':
			n := int(pat[i+1] - '1')
			if n < 0 || n >= len(closed) || !closed[n] {
				return nil, &Error{"invalid capture index"}
			}
			p.items = append(p.items, item{kind: backref, n: n})
			i += 2
			continue
		}
		it := item{kind: single}
		end, err := parseClass(pat, i, &it.set)
		if err != nil {
			return nil, err
		}
		i = end
		if i < len(pat) {
			switch pat[i] {
			case '?', '*', '+', '-':
				it.quant = pat[i]
				i++
			}
		}
		p.items = append(p.items, it)
	}
	if len(stack) > 0 {
		return nil, &Error{"unfinished capture"}
	}
	return p, nil
}

// parseClass reads one character class at pat[i] (a literal, '.', a %
// class or escape, or a [set]) into s and returns the index after it.
func parseClass(pat string, i int, s *set) (int, error) {
	switch pat[i] {
	case '.':
		s.invert()
		return i + 1, nil
	case '%':
		if i+1 >= len(pat) {
			return 0, &Error{"malformed pattern (ends with '%')"}
		}
		addClass(s, pat[i+1])
		return i + 2, nil
	case '[':
		return parseSet(pat, i, s)
	}
	s.add(pat[i])
	return i + 1, nil
}

// parseSet reads a [set] starting at pat[i] == '[' into s and returns
// the index after it. It follows Lua 5.1: the closing ']' is found first
// (skipping escapes, and a ']' right after '[' or '[^' belongs to the
// set), then the contents are read; 'x-y' is a range unless y is the
// closing bracket.
func parseSet(pat string, i int, s *set) (int, error) {
	j := i + 1
	if j < len(pat) && pat[j] == '^' {
		j++
	}
	for {
		if j >= len(pat) {
			return 0, &Error{"malformed pattern (missing ']')"}
		}
		c := pat[j]
		j++
		if c == '%' && j < len(pat) {
			j++
		}
		if j < len(pat) && pat[j] == ']' {
			break
		}
	}
	ec := j // the closing bracket
	p := i
	negate := false
	if pat[p+1] == '^' {
		negate = true
		p++
	}
	for p++; p < ec; p++ {
		switch {
		case pat[p] == '%':
			p++
			addClass(s, pat[p])
		case pat[p+1] == '-' && p+2 < ec:
			s.addRange(pat[p], pat[p+2])
			p += 2
		default:
			s.add(pat[p])
		}
	}
	if negate {
		s.invert()
	}
	return ec + 1, nil
}

// addClass adds %c to s: for a class letter the class (upper case for
// its complement), for any other character that character. The classes
// are those of the C locale, as in Lua.
func addClass(s *set, c byte) {
	pred := classPredicate(c | 0x20)
	if pred == nil || !isAlpha(c) {
		s.add(c)
		return
	}
	complement := c >= 'A' && c <= 'Z'
	for b := 0; b < 256; b++ {
		if pred(byte(b)) != complement {
			s.add(byte(b))
		}
	}
}

func classPredicate(c byte) func(byte) bool {
	switch c {
	case 'a':
		return isAlpha
	case 'c':
		return func(ch byte) bool { return ch < 32 || ch == 127 }
	case 'd':
		return isDigit
	case 'l':
		return func(ch byte) bool { return ch >= 'a' && ch <= 'z' }
	case 'p':
		return isPunct
	case 's':
		return func(ch byte) bool { return ch == ' ' || (ch >= '\t' && ch <= '\r') }
	case 'u':
		return func(ch byte) bool { return ch >= 'A' && ch <= 'Z' }
	case 'w':
		return func(ch byte) bool { return isAlpha(ch) || isDigit(ch) }
	case 'x':
		return func(ch byte) bool { return isDigit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') }
	case 'z':
		return func(ch byte) bool { return ch == 0 }
	}
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func isPunct(c byte) bool {
	return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)
}

// NeedsPattern reports whether pat has a character that is special in
// patterns; without one, string.find searches for it as plain text.
func NeedsPattern(pat string) bool {
	for i := 0; i < len(pat); i++ {
		switch pat[i] {
		case '^', '$', '*', '+', '?', '.', '(', ')', '[', ']', '%', '-':
			return true
		}
	}
	return false
}

// Capture is one capture of a match: a substring [Start, End) of the
// subject, or a position (IsPosition, Start is the 0-based index).
type Capture struct {
	Start, End int
	IsPosition bool
}

// Match is one match: the matched part [Start, End) of the subject and
// the pattern's captures.
type Match struct {
	Start, End int
	Captures   []Capture
}

// Matcher matches one pattern against one subject.
type Matcher struct {
	p     *Pattern
	src   string
	check func() error
	steps int
	depth int
	level int
	caps  [MaxCaptures]capture
}

type capture struct{ start, n int }

const (
	capUnfinished = -1
	capPosition   = -2
)

// abort unwinds a match stopped by the check function or the depth limit.
type abort struct{ err error }

// NewMatcher prepares matching p against src. check is called every few
// thousand steps; when it returns an error the match stops with it. A
// nil check never stops.
func NewMatcher(p *Pattern, src string, check func() error) *Matcher {
	return &Matcher{p: p, src: src, check: check, steps: checkEvery}
}

// Find looks for the first match starting at or after init (0-based; at
// init only when the pattern is anchored). ok is false when there is none.
func (m *Matcher) Find(init int) (match Match, ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			a, isAbort := r.(abort)
			if !isAbort {
				panic(r)
			}
			err = a.err
		}
	}()
	for s := init; s <= len(m.src); s++ {
		if e := m.MatchAt(s); e >= 0 {
			return m.result(s, e), true, nil
		}
		if m.p.anchored {
			break
		}
		m.tick(1)
	}
	return Match{}, false, nil
}

// MatchAt matches at exactly s and returns the end of the match or -1.
// It panics with an abort; callers use Find or FindAt.
func (m *Matcher) MatchAt(s int) int {
	m.level = 0
	m.depth = 0
	return m.match(s, 0)
}

// FindAt matches at exactly s, for gmatch and gsub, which move along the
// subject themselves.
func (m *Matcher) FindAt(s int) (match Match, ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			a, isAbort := r.(abort)
			if !isAbort {
				panic(r)
			}
			err = a.err
		}
	}()
	if e := m.MatchAt(s); e >= 0 {
		return m.result(s, e), true, nil
	}
	m.tick(1)
	return Match{}, false, nil
}

func (m *Matcher) result(s, e int) Match {
	r := Match{Start: s, End: e}
	if m.level > 0 {
		r.Captures = make([]Capture, m.level)
		for i := 0; i < m.level; i++ {
			c := m.caps[i]
			if c.n == capPosition {
				r.Captures[i] = Capture{Start: c.start, End: c.start, IsPosition: true}
			} else {
				r.Captures[i] = Capture{Start: c.start, End: c.start + c.n}
			}
		}
	}
	return r
}

func (m *Matcher) tick(n int) {
	m.steps -= n
	if m.steps > 0 {
		return
	}
	m.steps = checkEvery
	if m.check != nil {
		if err := m.check(); err != nil {
			panic(abort{err})
		}
	}
}

// match matches items[i:] at src[s:] and returns the end of the match or
// -1. Plain items are consumed in a loop; quantifiers, captures and
// alternatives recurse once per item.
func (m *Matcher) match(s, i int) int {
	m.depth++
	if m.depth > MaxDepth {
		panic(abort{ErrTooComplex})
	}
	r := m.matchItems(s, i)
	m.depth--
	return r
}

func (m *Matcher) matchItems(s, i int) int {
	src, items := m.src, m.p.items
	for {
		m.tick(1)
		if i == len(items) {
			return s
		}
		it := &items[i]
		switch it.kind {
		case single:
			switch it.quant {
			case 0:
				if s < len(src) && it.set.has(src[s]) {
					s++
					i++
					continue
				}
				return -1
			case '?':
				if s < len(src) && it.set.has(src[s]) {
					if r := m.match(s+1, i+1); r >= 0 {
						return r
					}
				}
				i++
				continue
			case '*':
				return m.maxExpand(s, i)
			case '+':
				if s < len(src) && it.set.has(src[s]) {
					return m.maxExpand(s+1, i)
				}
				return -1
			default: // '-'
				return m.minExpand(s, i)
			}
		case open, position:
			n := capUnfinished
			if it.kind == position {
				n = capPosition
			}
			m.caps[m.level] = capture{start: s, n: n}
			m.level++
			r := m.match(s, i+1)
			if r < 0 {
				m.level--
			}
			return r
		case closeCap:
			l := m.level - 1
			for ; l >= 0 && m.caps[l].n != capUnfinished; l-- {
			}
			m.caps[l].n = s - m.caps[l].start
			r := m.match(s, i+1)
			if r < 0 {
				m.caps[l].n = capUnfinished
			}
			return r
		case atEnd:
			if s == len(src) {
				return s
			}
			return -1
		case balance:
			if s >= len(src) || src[s] != it.a {
				return -1
			}
			depth := 1
			e := -1
			for j := s + 1; j < len(src); j++ {
				if src[j] == it.b {
					depth--
					if depth == 0 {
						e = j + 1
						break
					}
				} else if src[j] == it.a {
					depth++
				}
			}
			m.tick((e - s) / 16)
			if e < 0 {
				return -1
			}
			s = e
			i++
		case frontier:
			var prev, cur byte
			if s > 0 {
				prev = src[s-1]
			}
			if s < len(src) {
				cur = src[s]
			}
			if it.set.has(prev) || !it.set.has(cur) {
				return -1
			}
			i++
		case backref:
			c := m.caps[it.n]
			if c.n < 0 || len(src)-s < c.n || src[s:s+c.n] != src[c.start:c.start+c.n] {
				return -1
			}
			m.tick(c.n / 16)
			s += c.n
			i++
		}
	}
}

// maxExpand matches as many characters of items[i] as it can from s,
// then gives them back one at a time until the rest matches.
func (m *Matcher) maxExpand(s, i int) int {
	src, it := m.src, &m.p.items[i]
	n := 0
	for s+n < len(src) && it.set.has(src[s+n]) {
		n++
	}
	m.tick(n / 16)
	for ; n >= 0; n-- {
		if r := m.match(s+n, i+1); r >= 0 {
			return r
		}
	}
	return -1
}

// minExpand matches as few characters of items[i] as it can.
func (m *Matcher) minExpand(s, i int) int {
	src, it := m.src, &m.p.items[i]
	for {
		if r := m.match(s, i+1); r >= 0 {
			return r
		}
		if s < len(src) && it.set.has(src[s]) {
			s++
			continue
		}
		return -1
	}
}
