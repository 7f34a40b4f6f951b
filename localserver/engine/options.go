package engine

import (
	"encoding/json"
	"fmt"
	"math"
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
// 1-based page numbers in ascending order without duplicates.
func parsePages(spec string, count int) ([]int, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		all := make([]int, count)
		for i := range all {
			all[i] = i + 1
		}
		return all, nil
	}
	seen := make(map[int]bool)
	bad := func() ([]int, error) {
		return nil, newError(CodeInvalidOptions, nil, "option pages %q is not a page list like \"1-3,5\" (the document has %d pages)", spec, count)
	}
	for _, part := range strings.Split(spec, ",") {
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
		if a < 1 || b < a || b > count {
			return bad()
		}
		for p := a; p <= b; p++ {
			seen[p] = true
		}
	}
	out := make([]int, 0, len(seen))
	for p := 1; p <= count; p++ {
		if seen[p] {
			out = append(out, p)
		}
	}
	return out, nil
}
