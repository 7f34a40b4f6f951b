package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Task options arrive as decoded JSON, so numbers may be float64,
// json.Number, ints (from Go callers) or numeric strings; these helpers
// accept all of them and report anything else as INVALID_OPTIONS.

func optString(opts map[string]any, key string) string {
	switch v := opts[key].(type) {
	case string:
		return strings.TrimSpace(v)
	case json.Number:
		return v.String()
	case nil:
		return ""
	default:
		return strings.TrimSpace(fmt.Sprint(v))
	}
}

// optInt returns the integer option key, ok=false when absent or null.
func optInt(opts map[string]any, key string) (n int, ok bool, err error) {
	var f float64
	switch v := opts[key].(type) {
	case nil:
		return 0, false, nil
	case int:
		return v, true, nil
	case int64:
		f = float64(v)
	case float64:
		f = v
	case float32:
		f = float64(v)
	case json.Number:
		f, err = v.Float64()
	case string:
		if strings.TrimSpace(v) == "" {
			return 0, false, nil
		}
		f, err = strconv.ParseFloat(strings.TrimSpace(v), 64)
	default:
		err = fmt.Errorf("unexpected type %T", v)
	}
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || math.Abs(f) > 1<<30 {
		return 0, false, newError(CodeInvalidOptions, nil, "option %s must be an integer", key)
	}
	return int(f), true, nil
}

// optRange returns an integer option that must lie in [lo, hi], or def.
func optRange(opts map[string]any, key string, lo, hi, def int) (int, error) {
	n, ok, err := optInt(opts, key)
	if err != nil {
		return 0, err
	}
	if !ok {
		return def, nil
	}
	if n < lo || n > hi {
		return 0, newError(CodeInvalidOptions, nil, "option %s must be between %d and %d, got %d", key, lo, hi, n)
	}
	return n, nil
}

// parsePages parses CloudConvert's "pages" option ("1", "1-3", "1,3,5-7",
// "2-" meaning to the end) against a document of count pages. It returns
// 1-based page numbers in ascending order without duplicates, and refuses
// a selection of more than limit pages before building it.
func parsePages(spec string, count, limit int) ([]int, error) {
	spec = strings.TrimSpace(spec)
	bad := func() ([]int, error) {
		return nil, newError(CodeInvalidOptions, nil, "option pages %q is not a page list like \"1-3,5\" or \"2-\"", short(spec))
	}
	outOfRange := func(p int) ([]int, error) {
		return nil, newError(CodeInvalidOptions, nil, "option pages %q asks for page %d, but the document has %s: pages are numbered 1 to %d",
			short(spec), p, plural(count, "page"), count)
	}
	if len(spec) > 4096 {
		return bad()
	}
	var ranges [][2]int
	if spec == "" {
		ranges = [][2]int{{1, count}}
	}
	for part := range strings.SplitSeq(spec, ",") {
		if spec == "" {
			break
		}
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil {
			return bad()
		}
		b := a
		if isRange {
			if strings.TrimSpace(hi) == "" {
				b = count
			} else if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
				return bad()
			}
		}
		switch {
		case a < 1 || b < a:
			return bad()
		case a > count:
			return outOfRange(a)
		case b > count:
			return outOfRange(b)
		}
		ranges = append(ranges, [2]int{a, b})
	}
	slices.SortFunc(ranges, func(x, y [2]int) int { return x[0] - y[0] })
	merged := ranges[:0]
	n := 0
	for _, r := range ranges {
		if len(merged) > 0 && r[0] <= merged[len(merged)-1][1]+1 {
			last := &merged[len(merged)-1]
			n += max(0, r[1]-last[1])
			last[1] = max(last[1], r[1])
			continue
		}
		merged = append(merged, r)
		n += r[1] - r[0] + 1
	}
	if n > limit {
		return nil, newError(CodeInvalidOptions, nil, "%d pages are selected for rendering; the limit is %d pages per task: select fewer with the pages option, e.g. \"1-%d\"", n, limit, limit)
	}
	out := make([]int, 0, n)
	for _, r := range merged {
		for p := r[0]; p <= r[1]; p++ {
			out = append(out, p)
		}
	}
	return out, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func short(s string) string {
	if len(s) > 64 {
		return strings.ToValidUTF8(s[:61], "") + "..."
	}
	return s
}
