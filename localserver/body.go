package localserver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf16"
	"unicode/utf8"
)

// A JSON request body is read with a memory cost that does not grow with
// the file contents it carries. import/base64 and import/raw put a whole
// file into the "file" string; those strings are streamed, unescaped, into
// the spool (one file per task, on disk) as they are read, and replaced in
// the body by a token. What remains of the body is small and is checked,
// validated and decoded as usual, and the task never holds the content.

// maxJSONBody bounds a request body apart from spooled file contents: a
// job of maxJobTasks tasks with long options fits many times over.
const maxJSONBody = 1 << 20

// maxJSONDepth bounds nesting; API bodies are a few levels deep.
const maxJSONDepth = 64

// errBodyTooLarge, errBodyTooDeep and errBodySyntax are the ways reading a
// body fails; each maps to an answer in apiHandler.
var (
	errBodyTooLarge = errors.New("body too large")
	errBodyTooDeep  = errors.New("body nested too deeply")
	errBodySyntax   = errors.New("body is not valid JSON")
)

// spill is one spooled "file" string.
type spill struct {
	taskID string // the task it becomes the content of; names the spool file
	size   int64
	f      *bufio.Writer
	file   *os.File
}

// spillReader rewrites a JSON body, spooling the strings at spillAt.
type spillReader struct {
	r       *bufio.Reader
	out     bytes.Buffer
	path    []string
	spillAt func(path []string) (key string, ok bool)
	create  func(key string) (*spill, error) // opens (or reopens) the spool file for key
	token   string
	spills  map[string]*spill
}

// readJSONBody reads r, spooling the strings at spillAt. It returns the
// rewritten body and the spills (which the caller removes unless a task
// adopts them). A failure leaves nothing behind.
func (s *Server) readJSONBody(r io.Reader, spillAt func([]string) (string, bool), token string) ([]byte, map[string]*spill, error) {
	p := &spillReader{r: bufio.NewReaderSize(r, 64<<10), spillAt: spillAt, token: token, spills: map[string]*spill{}}
	p.create = func(key string) (*spill, error) {
		if sp := p.spills[key]; sp != nil { // the same key twice: the last one wins, as in JSON
			return sp, sp.restart()
		}
		sp, err := s.newSpill()
		if err != nil {
			return nil, err
		}
		p.spills[key] = sp
		return sp, nil
	}
	err := p.document()
	for _, sp := range p.spills {
		if cerr := sp.finish(s.cfg.SyncWrites); err == nil && cerr != nil {
			err = cerr
		}
	}
	if err == nil {
		err = s.syncSpool()
	}
	if err != nil {
		for _, sp := range p.spills {
			s.removeSpool(sp.taskID)
		}
		return nil, nil, err
	}
	return p.out.Bytes(), p.spills, nil
}

func (p *spillReader) emit(b ...byte) error {
	if p.out.Len()+len(b) > maxJSONBody {
		return errBodyTooLarge
	}
	p.out.Write(b)
	return nil
}

// next skips whitespace and peeks the next byte.
func (p *spillReader) next() (byte, error) {
	for {
		c, err := p.r.ReadByte()
		if err != nil {
			return 0, eof(err)
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c, p.r.UnreadByte()
	}
}

func (p *spillReader) document() error {
	if _, err := p.next(); err != nil {
		if errors.Is(err, errBodySyntax) { // empty body
			return nil
		}
		return err
	}
	if err := p.value(0); err != nil {
		return err
	}
	if _, err := p.next(); err == nil {
		return errBodySyntax // trailing data
	} else if !errors.Is(err, errBodySyntax) {
		return err
	}
	return nil
}

func (p *spillReader) value(depth int) error {
	if depth > maxJSONDepth {
		return errBodyTooDeep
	}
	c, err := p.next()
	if err != nil {
		return err
	}
	switch c {
	case '{':
		return p.object(depth)
	case '[':
		return p.array(depth)
	case '"':
		if key, ok := p.spillAt(p.path); ok {
			return p.spillString(key)
		}
		_, err := p.copyString(false)
		return err
	}
	return p.scalar()
}

func (p *spillReader) object(depth int) error {
	p.r.ReadByte()
	if err := p.emit('{'); err != nil {
		return err
	}
	c, err := p.next()
	if err != nil {
		return err
	}
	if c == '}' {
		p.r.ReadByte()
		return p.emit('}')
	}
	for {
		if c, err = p.next(); err != nil {
			return err
		}
		if c != '"' {
			return errBodySyntax
		}
		key, err := p.copyString(true)
		if err != nil {
			return err
		}
		if c, err = p.next(); err != nil {
			return err
		}
		if c != ':' {
			return errBodySyntax
		}
		p.r.ReadByte()
		if err := p.emit(':'); err != nil {
			return err
		}
		p.path = append(p.path, key)
		err = p.value(depth + 1)
		p.path = p.path[:len(p.path)-1]
		if err != nil {
			return err
		}
		if c, err = p.next(); err != nil {
			return err
		}
		p.r.ReadByte()
		switch c {
		case ',':
			if err := p.emit(','); err != nil {
				return err
			}
		case '}':
			return p.emit('}')
		default:
			return errBodySyntax
		}
	}
}

func (p *spillReader) array(depth int) error {
	p.r.ReadByte()
	if err := p.emit('['); err != nil {
		return err
	}
	c, err := p.next()
	if err != nil {
		return err
	}
	if c == ']' {
		p.r.ReadByte()
		return p.emit(']')
	}
	p.path = append(p.path, "[]")
	defer func() { p.path = p.path[:len(p.path)-1] }()
	for {
		if err := p.value(depth + 1); err != nil {
			return err
		}
		if c, err = p.next(); err != nil {
			return err
		}
		p.r.ReadByte()
		switch c {
		case ',':
			if err := p.emit(','); err != nil {
				return err
			}
		case ']':
			return p.emit(']')
		default:
			return errBodySyntax
		}
	}
}

// scalar copies a number or literal; its validity is left to json.Valid
// on the rewritten body.
func (p *spillReader) scalar() error {
	for n := 0; ; n++ {
		c, err := p.r.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch c {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return p.r.UnreadByte()
		}
		if n > 64 || c < 0x20 || c == '"' || c == '{' || c == '[' {
			return errBodySyntax
		}
		if err := p.emit(c); err != nil {
			return err
		}
	}
}

// copyString copies a string as it is; for a key it also returns its
// decoded value.
func (p *spillReader) copyString(key bool) (string, error) {
	start := p.out.Len()
	p.r.ReadByte()
	if err := p.emit('"'); err != nil {
		return "", err
	}
	for {
		c, err := p.r.ReadByte()
		if err != nil {
			return "", eof(err)
		}
		if c < 0x20 {
			return "", errBodySyntax
		}
		if err := p.emit(c); err != nil {
			return "", err
		}
		if c == '\\' {
			e, err := p.r.ReadByte()
			if err != nil {
				return "", eof(err)
			}
			if err := p.emit(e); err != nil {
				return "", err
			}
			continue
		}
		if c == '"' {
			break
		}
	}
	if !key {
		return "", nil
	}
	var v string
	if err := json.Unmarshal(p.out.Bytes()[start:], &v); err != nil {
		return "", errBodySyntax
	}
	return v, nil
}

// spillString streams a string's decoded content into the spool file of
// key and emits the token in its place.
func (p *spillReader) spillString(key string) error {
	sp, err := p.create(key)
	if err != nil {
		return err
	}
	p.r.ReadByte()
	var u [utf8.UTFMax]byte
	for {
		// Copy the run up to the next quote, backslash or control byte.
		chunk, _ := p.r.Peek(max(1, p.r.Buffered()))
		i := 0
		for i < len(chunk) && chunk[i] != '"' && chunk[i] != '\\' && chunk[i] >= 0x20 {
			i++
		}
		if i > 0 {
			if err := sp.write(chunk[:i]); err != nil {
				return err
			}
			p.r.Discard(i)
			continue
		}
		c, err := p.r.ReadByte()
		if err != nil {
			return eof(err)
		}
		switch {
		case c == '"':
			return p.emit([]byte(`"` + p.token + `"`)...)
		case c < 0x20:
			return errBodySyntax
		}
		e, err := p.r.ReadByte() // c is a backslash
		if err != nil {
			return eof(err)
		}
		var out []byte
		switch e {
		case '"', '\\', '/':
			out = []byte{e}
		case 'b':
			out = []byte{'\b'}
		case 'f':
			out = []byte{'\f'}
		case 'n':
			out = []byte{'\n'}
		case 'r':
			out = []byte{'\r'}
		case 't':
			out = []byte{'\t'}
		case 'u':
			r, err := p.hex4()
			if err != nil {
				return err
			}
			if utf16.IsSurrogate(r) {
				// A pair makes one character; anything else is U+FFFD and
				// the next escape stands on its own (as encoding/json reads it).
				hi := r
				r = utf8.RuneError
				if next, _ := p.r.Peek(6); len(next) == 6 && next[0] == '\\' && next[1] == 'u' {
					if lo, ok := parseHex4(next[2:]); ok {
						if dec := utf16.DecodeRune(hi, lo); dec != utf8.RuneError {
							r = dec
							p.r.Discard(6)
						}
					}
				}
			}
			out = u[:utf8.EncodeRune(u[:], r)]
		default:
			return errBodySyntax
		}
		if err := sp.write(out); err != nil {
			return err
		}
	}
}

func (p *spillReader) hex4() (rune, error) {
	b, err := p.r.Peek(4)
	if err != nil {
		return 0, eof(err)
	}
	r, ok := parseHex4(b)
	if !ok {
		return 0, errBodySyntax
	}
	p.r.Discard(4)
	return r, nil
}

func parseHex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// eof turns the end of the body inside a value into a syntax error and
// keeps other read errors (the size cap) as they are.
func eof(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errBodySyntax
	}
	return err
}

func (sp *spill) write(b []byte) error {
	sp.size += int64(len(b))
	if _, err := sp.f.Write(b); err != nil {
		return fmt.Errorf("%w: %w", errSpool, err)
	}
	return nil
}

// spillPaths says where file contents are spooled: "tasks.<name>.file" of
// a job (keyed by the task name), "file" of a standalone inline import.
func spillPaths(route string) func([]string) (string, bool) {
	switch route {
	case "jobs":
		return func(path []string) (string, bool) {
			if len(path) == 3 && path[0] == "tasks" && path[2] == "file" {
				return path[1], true
			}
			return "", false
		}
	case "inline":
		return func(path []string) (string, bool) { return "", len(path) == 1 && path[0] == "file" }
	}
	return func([]string) (string, bool) { return "", false }
}
