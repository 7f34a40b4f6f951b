package spec

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/cctoolkit/cloudconvert/internal/suggest"
)

// decoder walks a yaml.Node tree into the spec types by reflection. It is
// hand-written rather than yaml.v3's Decoder.KnownFields because that one
// reports lines without columns and stops at the first unknown key without
// naming the keys that are allowed; this one fills every Pos field too.
type decoder struct {
	file  string
	lines []string
}

// entryDecoder is implemented by Entries[T], the ordered mappings.
type entryDecoder interface {
	decodeMapping(d *decoder, n *yaml.Node) error
}

// nodeDecoder is implemented by types with a YAML form of their own.
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node) error
}

var (
	posType  = reflect.TypeFor[Pos]()
	nodeType = reflect.TypeFor[yaml.Node]()
)

func (d *decoder) pos(n *yaml.Node) Pos {
	return Pos{File: d.file, Line: n.Line, Col: n.Column}
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) *Error {
	return &Error{Pos: d.pos(n), Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) decode(n *yaml.Node, out any) error {
	return d.value(n, reflect.ValueOf(out).Elem())
}

func (d *decoder) value(n *yaml.Node, v reflect.Value) error {
	for n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		// Aliases can refer to themselves; a spec is short enough to write
		// values out, so they are refused rather than followed.
		return d.errorf(n, "YAML aliases (*%s) are not supported in a spec; write the value out", n.Value)
	}
	if v.Type() == reflect.PointerTo(nodeType) {
		v.Set(reflect.ValueOf(n))
		return nil
	}
	if v.CanAddr() {
		switch dec := v.Addr().Interface().(type) {
		case entryDecoder:
			return dec.decodeMapping(d, n)
		case nodeDecoder:
			return dec.decodeNode(d, n)
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			return nil
		}
		p := reflect.New(v.Type().Elem())
		if err := d.value(n, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case reflect.Struct:
		return d.structValue(n, v)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return d.errorf(n, "expected a list, got %s", describe(n))
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			if err := d.value(c, s.Index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			return d.errorf(n, "expected a string, got %s (quote it if it is meant as text)", describe(n))
		}
		v.SetString(n.Value)
		return nil
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			return d.errorf(n, "expected true or false, got %s", describe(n))
		}
		b, _ := strconv.ParseBool(n.Value)
		v.SetBool(b)
		return nil
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			return d.errorf(n, "expected an integer, got %s", describe(n))
		}
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil {
			return d.errorf(n, "expected an integer, got %q", n.Value)
		}
		v.SetInt(i)
		return nil
	case reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			return d.errorf(n, "expected a number, got %s", describe(n))
		}
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			return d.errorf(n, "expected a number, got %q", n.Value)
		}
		v.SetFloat(f)
		return nil
	}
	return d.errorf(n, "internal: cannot decode into %s", v.Type())
}

// field is one YAML key of a struct, possibly inside an inlined struct.
type field struct {
	index []int
}

func structFields(t reflect.Type) (map[string]field, []string) {
	fields := map[string]field{}
	var names []string
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("yaml")
			if tag == "" || tag == "-" {
				continue
			}
			idx := append(slices.Clone(prefix), i)
			name, opts, _ := strings.Cut(tag, ",")
			if opts == "inline" {
				walk(sf.Type, idx)
				continue
			}
			fields[name] = field{index: idx}
			names = append(names, name)
		}
	}
	walk(t, nil)
	slices.Sort(names)
	return fields, names
}

func (d *decoder) structValue(n *yaml.Node, v reflect.Value) error {
	if n.Kind != yaml.MappingNode {
		return d.errorf(n, "expected a mapping of keys to values, got %s", describe(n))
	}
	setPos(v, d.pos(n))
	fields, names := structFields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			return d.errorf(k, "key %q appears twice", k.Value)
		}
		seen[k.Value] = true
		f, ok := fields[k.Value]
		if !ok {
			return d.errorf(k, "unknown key %q%s; allowed here: %s", k.Value,
				suggest.DidYouMean(k.Value, names), strings.Join(names, ", "))
		}
		fv := v.FieldByIndex(f.index)
		if err := d.value(val, fv); err != nil {
			return err
		}
	}
	return nil
}

// setPos fills the Pos fields of v and of the structs it inlines.
func setPos(v reflect.Value, p Pos) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		switch {
		case sf.Type == posType && sf.Name == "Pos":
			v.Field(i).Set(reflect.ValueOf(p))
		case sf.Anonymous && sf.Type.Kind() == reflect.Struct:
			setPos(v.Field(i), p)
		}
	}
}

func (e *Entries[T]) decodeMapping(d *decoder, n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return d.errorf(n, "expected a mapping of names to definitions, got %s", describe(n))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Tag != "!!str" {
			return d.errorf(k, "expected a name, got %s", describe(k))
		}
		if seen[k.Value] {
			return d.errorf(k, "%q is defined twice", k.Value)
		}
		seen[k.Value] = true
		var v T
		if err := d.value(val, reflect.ValueOf(&v).Elem()); err != nil {
			return err
		}
		*e = append(*e, Entry[T]{Key: k.Value, KeyPos: d.pos(k), Value: v})
	}
	return nil
}

func (a *AdditionalProperties) decodeNode(d *decoder, n *yaml.Node) error {
	a.Pos = d.pos(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		a.Allowed, _ = strconv.ParseBool(n.Value)
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return d.errorf(n, "additional_properties must be true, false or a schema, got %s", describe(n))
	}
	a.Allowed = true
	a.Schema = new(Schema)
	return d.value(n, reflect.ValueOf(a.Schema).Elem())
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe names what a node is, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return fmt.Sprintf("the text %q", n.Value)
		case "!!int":
			return "the integer " + n.Value
		case "!!float":
			return "the number " + n.Value
		case "!!bool":
			return n.Value
		case "!!null":
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// maxDepth bounds nesting, so that a hostile file cannot exhaust the stack.
const maxDepth = 64

// noAliases refuses alias nodes anywhere below n (values kept as raw
// nodes, such as examples, are walked here too).
func (d *decoder) noAliases(n *yaml.Node, depth int) error {
	if depth > maxDepth {
		return d.errorf(n, "the spec nests deeper than %d levels", maxDepth)
	}
	if n.Kind == yaml.AliasNode {
		return d.errorf(n, "YAML aliases (*%s) are not supported in a spec; write the value out", n.Value)
	}
	for _, c := range n.Content {
		if err := d.noAliases(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}
