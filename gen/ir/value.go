package ir

import (
	"fmt"
	"math"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/cctoolkit/cloudconvert/integration"
)

// valueOf turns a YAML node into an argument value of the descriptor: nil,
// bool, float64, string, []any or *integration.Object (which keeps the
// spec's key order, so examples and defaults print as written).
func valueOf(n *yaml.Node) (any, error) {
	if n == nil {
		return nil, nil
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil, nil
		case "!!bool":
			return strconv.ParseBool(n.Value)
		case "!!int":
			i, err := strconv.ParseInt(n.Value, 0, 64)
			if err != nil || math.Abs(float64(i)) > 1<<53 {
				return nil, fmt.Errorf("integer %s is out of the exact range of JSON numbers", n.Value)
			}
			return float64(i), nil
		case "!!float":
			return strconv.ParseFloat(n.Value, 64)
		case "!!str":
			return n.Value, nil
		}
		return nil, fmt.Errorf("unsupported value %q (%s)", n.Value, n.Tag)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := valueOf(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		m := integration.NewObject(len(n.Content) / 2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := valueOf(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m.Set(n.Content[i].Value, v)
		}
		return m, nil
	}
	return nil, fmt.Errorf("unsupported YAML value")
}

// fitsType reports whether a value is of a schema type.
func fitsType(v any, t integration.Type) bool {
	switch t {
	case integration.TypeString:
		_, ok := v.(string)
		return ok
	case integration.TypeInteger:
		f, ok := v.(float64)
		return ok && f == math.Trunc(f)
	case integration.TypeNumber:
		_, ok := v.(float64)
		return ok
	case integration.TypeBoolean:
		_, ok := v.(bool)
		return ok
	case integration.TypeArray:
		_, ok := v.([]any)
		return ok
	case integration.TypeObject:
		_, ok := v.(*integration.Object)
		return ok
	case integration.TypeAny:
		return true
	}
	return false
}
