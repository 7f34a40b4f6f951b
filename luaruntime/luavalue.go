package luaruntime

import (
	"math"
	"strconv"

	lua "github.com/yuin/gopher-lua"

	"github.com/cctoolkit/cloudconvert/integration"
)

// valueError is a Lua value that cannot be an argument, at a path.
type valueError struct {
	path string
	msg  string
}

// fromLua turns a Lua value into an argument value (see integration.Object):
// a sequence becomes a list, a table with string keys an object, an empty
// table an empty object (which also stands for an empty list), and a table
// json.decode made from [] an empty list. Values with no JSON form (a
// function) become integration.Opaque, which the schema check names.
func fromLua(v lua.LValue, path string, depth int) (any, *valueError) {
	switch v := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(v), nil
	case lua.LNumber:
		return float64(v), nil
	case lua.LString:
		return string(v), nil
	case *lua.LTable:
		if depth > integration.MaxDepth {
			return nil, &valueError{path, "nests deeper than " + strconv.Itoa(integration.MaxDepth) + " levels (does a table contain itself?)"}
		}
		return tableValue(v, path, depth)
	case *lua.LFunction:
		return integration.Opaque("a function"), nil
	case *lua.LUserData:
		return integration.Opaque("a userdata value"), nil
	}
	return integration.Opaque("a " + v.Type().String()), nil
}

func tableValue(t *lua.LTable, path string, depth int) (any, *valueError) {
	var keys []string
	maxN, count := 0, 0
	var bad lua.LValue
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		switch key := k.(type) {
		case lua.LString:
			keys = append(keys, string(key))
		case lua.LNumber:
			f := float64(key)
			if f >= 1 && f == math.Trunc(f) && f < 1<<31 {
				count++
				maxN = max(maxN, int(f))
			} else if bad == nil {
				bad = k
			}
		default:
			if bad == nil {
				bad = k
			}
		}
	}
	switch {
	case bad != nil:
		return nil, &valueError{path, "has a key of " + integration.Lua.Describe(luaKeyValue(bad)) + "; only string keys and list positions can be sent"}
	case len(keys) > 0 && count > 0:
		return nil, &valueError{path, "mixes list items and named fields; use one or the other"}
	case count > 0 && count != maxN:
		gap := 1
		for i := 1; i <= count+1; i++ { // the first hole is at most count+1
			if t.RawGetInt(i) == lua.LNil {
				gap = i
				break
			}
		}
		return nil, &valueError{path, "is a list with a hole: item [" + strconv.Itoa(gap) + "] is nil"}
	case count > 0:
		list := make([]any, count)
		for i := 1; i <= count; i++ {
			x, err := fromLua(t.RawGetInt(i), path+"["+strconv.Itoa(i)+"]", depth+1)
			if err != nil {
				return nil, err
			}
			list[i-1] = x
		}
		return list, nil
	case len(keys) == 0 && isArrayTable(t):
		return []any{}, nil
	}
	o := integration.NewObject(len(keys))
	for _, k := range keys {
		sub := k
		if path != "" {
			sub = path + "." + k
		}
		x, err := fromLua(t.RawGetString(k), sub, depth+1)
		if err != nil {
			return nil, err
		}
		o.Set(k, x)
	}
	return o, nil
}

func luaKeyValue(k lua.LValue) any {
	switch k := k.(type) {
	case lua.LNumber:
		return float64(k)
	case lua.LBool:
		return bool(k)
	case *lua.LTable:
		return integration.NewObject(0)
	}
	return integration.Opaque("a " + k.Type().String())
}

func isArrayTable(t *lua.LTable) bool {
	mt, ok := t.Metatable.(*lua.LTable)
	return ok && mt.RawGetString("__jsontype") == lua.LString("array")
}
