package luaruntime

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/internal/suggest"
)

// ListDocs lists the runtime docs pages: the descriptor's, then
// Options.ExtraDocs, then Options.ExtraDocsFunc's.
func (r *Runtime) ListDocs() []*integration.DocPage {
	r.lazyDocsOnce.Do(func() {
		r.allDocs = r.docs
		if r.opts.ExtraDocsFunc == nil {
			return
		}
		extra := r.opts.ExtraDocsFunc()
		if len(extra) == 0 {
			return
		}
		seen := make(map[string]bool, len(r.docs)+len(extra))
		for _, p := range r.docs {
			seen[p.Name] = true
		}
		all := slices.Clip(slices.Clone(r.docs))
		for _, p := range extra {
			if p != nil && p.Name != "" && !seen[p.Name] {
				seen[p.Name] = true
				all = append(all, p)
			}
		}
		r.allDocs = all
	})
	return r.allDocs
}

// DocHit is a search result.
type DocHit struct {
	Name    string `json:"name"`
	Title   string `json:"title"`
	Snippet string `json:"snippet"`
	score   int
}

// SearchDocs finds pages containing the words of q, best first.
func (r *Runtime) SearchDocs(q string) []DocHit {
	words := strings.Fields(strings.ToLower(q))
	if len(words) == 0 {
		return nil
	}
	var hits []DocHit
	for _, p := range r.ListDocs() {
		text := strings.ToLower(p.Text)
		title := strings.ToLower(p.Name + " " + p.Title)
		score, first := 0, -1
		for _, w := range words {
			n := strings.Count(text, w)
			if n == 0 && !strings.Contains(title, w) {
				score = 0
				break
			}
			score += n + 10*strings.Count(title, w)
			if i := strings.Index(text, w); i >= 0 && (first < 0 || i < first) {
				first = i
			}
		}
		if score == 0 {
			continue
		}
		hits = append(hits, DocHit{Name: p.Name, Title: p.Title, Snippet: snippet(p.Text, first), score: score})
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].score > hits[j].score })
	return hits
}

func snippet(text string, at int) string {
	if at < 0 {
		at = 0
	}
	start := max(0, at-60)
	end := min(len(text), at+140)
	for start > 0 && start < len(text) && text[start]&0xC0 == 0x80 {
		start--
	}
	for end < len(text) && text[end]&0xC0 == 0x80 {
		end++
	}
	s := strings.Join(strings.Fields(text[start:end]), " ")
	if start > 0 {
		s = "…" + s
	}
	if end < len(text) {
		s += "…"
	}
	return s
}

// ReadDoc returns a page's markdown. A function name alone
// ("create_job") finds its page too.
func (r *Runtime) ReadDoc(name string) (string, error) {
	var names []string
	for _, p := range r.ListDocs() {
		if p.Name == name || p.Name == r.in.Slug+"."+name {
			return p.Text, nil
		}
		names = append(names, p.Name)
	}
	return "", fmt.Errorf("no docs page %q%s; pages: %s", name, suggest.DidYouMean(name, names), strings.Join(names, ", "))
}

// ListDocsText is lua_list_docs' answer.
func (r *Runtime) ListDocsText() string {
	var b strings.Builder
	b.WriteString("Docs pages (read one with lua_read_doc(page) or docs.read(page)):\n")
	for _, p := range r.ListDocs() {
		fmt.Fprintf(&b, "- %s: %s\n", p.Name, p.Title)
	}
	return b.String()
}

// SearchDocsText is lua_search_docs' answer.
func (r *Runtime) SearchDocsText(q string) string {
	hits := r.SearchDocs(q)
	if len(hits) == 0 {
		return fmt.Sprintf("No docs page mentions %q. Pages: lua_list_docs()\n", q)
	}
	var b strings.Builder
	for _, h := range hits {
		fmt.Fprintf(&b, "- %s: %s\n  %s\n", h.Name, h.Title, h.Snippet)
	}
	return b.String()
}
