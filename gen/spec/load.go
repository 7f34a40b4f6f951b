package spec

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a spec, at a position.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// ErrorList is every problem found in a spec. Errors are sorted by position.
type ErrorList []*Error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Load reads and decodes a spec file strictly. It does not validate; see
// Validate.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading spec: %w", err)
	}
	return Parse(path, data)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse decodes spec text; name is used in positions.
func Parse(name string, data []byte) (f *File, err error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		// yaml.v3 reports "yaml: line N: msg"; give it our position form.
		msg := err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			return nil, ErrorList{{Pos: Pos{File: name, Line: line, Col: 1}, Msg: "invalid YAML: " + m[2]}}
		}
		return nil, ErrorList{{Pos: Pos{File: name, Line: 1, Col: 1}, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}}
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, ErrorList{{Pos: Pos{File: name, Line: 1, Col: 1}, Msg: "the spec is empty; it needs at least integration and functions"}}
	}
	d := &decoder{file: name, lines: strings.Split(string(data), "\n")}
	f = new(File)
	err = d.noAliases(&root, 0)
	if err == nil {
		err = d.decode(&root, f)
	}
	if err != nil {
		var se *Error
		if errors.As(err, &se) {
			return nil, ErrorList{se}
		}
		return nil, err
	}
	return f, nil
}

func (e *Example) decodeNode(d *decoder, n *yaml.Node) error {
	type plain Example // the same fields, without this method
	var p plain
	if err := d.structValue(n, reflect.ValueOf(&p).Elem()); err != nil {
		return err
	}
	*e = Example(p)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "lua" {
			e.LuaPos = d.contentPos(n.Content[i+1])
		}
	}
	return nil
}

// contentPos is where a scalar's text starts: for a block scalar (`|`) the
// line after the indicator, at its indentation.
func (d *decoder) contentPos(n *yaml.Node) Pos {
	p := d.pos(n)
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		return p
	}
	p.Line++
	if p.Line-1 < len(d.lines) {
		line := d.lines[p.Line-1]
		p.Col = len(line) - len(strings.TrimLeft(line, " ")) + 1
	}
	return p
}
