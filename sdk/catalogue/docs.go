package catalogue

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cctoolkit/cloudconvert/integration"
)

// PageOptions shape the docs pages of a catalogue.
type PageOptions struct {
	// Prefix names the pages: Prefix (the index) and Prefix + "." +
	// family, e.g. cloudconvert.operations.convert.
	Prefix string
	// Intro opens every page: whose catalogue this is.
	Intro string
	// Describe gives an operation's one-line description, when known.
	Describe func(op string) string
}

// DocPages renders the catalogue as an index page and one page per
// operation family (convert, optimize, pdf for pdf/*, import for
// import/*, ...): each operation's format pairs with their engine and
// availability, and its options with type, default, possible values,
// bounds and meaning.
func DocPages(ops []Operation, o PageOptions) []*integration.DocPage {
	c := &Catalogue{Operations: ops}
	var pages []*integration.DocPage
	var index strings.Builder
	fmt.Fprintf(&index, "# Operations and their options\n\n%s\n\n", o.Intro)
	index.WriteString("One page per family of operations lists its formats and options:\n\n")
	for _, fam := range c.Families() {
		name := o.Prefix + "." + fam
		var famOps []string
		for _, op := range c.OperationNames() {
			if Family(op) == fam {
				famOps = append(famOps, op)
			}
		}
		fmt.Fprintf(&index, "- `%s`: %s\n", name, strings.Join(famOps, ", "))
		pages = append(pages, &integration.DocPage{Name: name, Title: "Operations: " + strings.Join(famOps, ", ") + " (formats and options)",
			Text: familyPage(c, fam, famOps, o)})
	}
	return append([]*integration.DocPage{{Name: o.Prefix, Title: "Operations, formats and options (index)", Text: index.String()}}, pages...)
}

func familyPage(c *Catalogue, fam string, famOps []string, o PageOptions) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Operations: %s\n\n%s\n", strings.Join(famOps, ", "), o.Intro)
	for _, op := range famOps {
		var entries []*Operation
		for i := range c.Operations {
			if c.Operations[i].Operation == op {
				entries = append(entries, &c.Operations[i])
			}
		}
		fmt.Fprintf(&b, "\n## %s\n\n", op)
		if o.Describe != nil {
			if d := o.Describe(op); d != "" {
				b.WriteString(d + ".\n\n")
			}
		}
		writeFormats(&b, entries)
		writeOptions(&b, entries)
	}
	return b.String()
}

func showFormat(f, none string) string {
	switch f {
	case "":
		return none
	case "*":
		return "any file"
	}
	return f
}

// writeFormats is a table of the operation's inputs, each with its
// outputs, engine and availability.
func writeFormats(b *strings.Builder, entries []*Operation) {
	type row struct {
		in, engine, avail string
		outs              []string
	}
	var rows []*row
	for _, e := range entries {
		avail := "yes"
		if !e.IsAvailable() {
			avail = "no: " + e.Note
		}
		in := showFormat(e.InputFormat, "(none)")
		var r *row
		for _, x := range rows {
			if x.in == in && x.engine == e.Engine && x.avail == avail {
				r = x
			}
		}
		if r == nil {
			r = &row{in: in, engine: e.Engine, avail: avail}
			rows = append(rows, r)
		}
		r.outs = append(r.outs, showFormat(e.OutputFormat, "(no file)"))
	}
	b.WriteString("| Input | Output | Engine | Available |\n|---|---|---|---|\n")
	for _, r := range rows {
		eng := r.engine
		if eng == "" {
			eng = "-"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", r.in, strings.Join(r.outs, ", "), eng, cell(r.avail))
	}
	b.WriteString("\n")
}

// writeOptions lists each distinct option once, with the format pairs
// that take it when not all do.
func writeOptions(b *strings.Builder, entries []*Operation) {
	type opt struct {
		o     Option
		pairs []string
	}
	var list []*opt
	same := func(a, x Option) bool {
		return a.Name == x.Name && a.Type == x.Type && fmt.Sprint(a.Default) == fmt.Sprint(x.Default) &&
			slices.Equal(a.PossibleValues, x.PossibleValues) && fmt.Sprint(deref(a.Minimum), deref(a.Maximum)) == fmt.Sprint(deref(x.Minimum), deref(x.Maximum)) &&
			a.Required == x.Required && a.Description == x.Description
	}
	for _, e := range entries {
		pair := showFormat(e.InputFormat, "") + " -> " + showFormat(e.OutputFormat, "(no file)")
		for _, o := range e.Options {
			var found *opt
			for _, x := range list {
				if same(x.o, o) {
					found = x
				}
			}
			if found == nil {
				found = &opt{o: o}
				list = append(list, found)
			}
			found.pairs = append(found.pairs, pair)
		}
	}
	if len(list) == 0 {
		if len(filterOps(entries, (*Operation).IsAvailable)) == 0 {
			b.WriteString("Its options are not listed here: the catalogue of a server that performs it lists them.\n")
			return
		}
		b.WriteString("It takes no options.\n")
		return
	}
	slices.SortStableFunc(list, func(a, x *opt) int { return strings.Compare(a.o.Name, x.o.Name) })
	b.WriteString("### Options\n\n| Option | Type | Default | Description |\n|---|---|---|---|\n")
	for _, x := range list {
		o := x.o
		typ := o.Type
		if o.Minimum != nil || o.Maximum != nil {
			typ += fmt.Sprintf(" (%s to %s)", bound(o.Minimum, "-∞"), bound(o.Maximum, "∞"))
		}
		if o.Required {
			typ += ", required"
		}
		desc := o.Description
		if len(o.PossibleValues) > 0 {
			desc += " Values: " + strings.Join(o.PossibleValues, ", ") + "."
		}
		if len(x.pairs) < len(entries) {
			desc += " Only " + pairsText(x.pairs) + "."
		}
		def := "-"
		if o.Default != nil {
			def = "`" + scalarText(o.Default) + "`"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", o.Name, typ, def, cell(strings.TrimSpace(desc)))
	}
}

// pairsText joins format pairs compactly: inputs with the same outputs
// share one entry ("bmp, png -> jpg, webp; pdf -> jpg").
func pairsText(pairs []string) string {
	var ins []string
	outs := map[string][]string{}
	for _, p := range pairs {
		in, out, _ := strings.Cut(p, " -> ")
		if _, ok := outs[in]; !ok {
			ins = append(ins, in)
		}
		outs[in] = append(outs[in], out)
	}
	var keys []string
	byOuts := map[string][]string{}
	for _, in := range ins {
		k := strings.Join(outs[in], ", ")
		if _, ok := byOuts[k]; !ok {
			keys = append(keys, k)
		}
		byOuts[k] = append(byOuts[k], in)
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		from := strings.Join(byOuts[k], ", ")
		if from == "" {
			parts[i] = "to " + k
			continue
		}
		parts[i] = from + " -> " + k
	}
	return strings.Join(parts, "; ")
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// cell keeps a table cell on one line.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
