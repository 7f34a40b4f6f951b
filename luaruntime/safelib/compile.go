package safelib

import (
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
)

// concatName is the local that holds the concat function in a compiled
// chunk. It holds a NUL byte, so no script can name, shadow or assign it.
const concatName = "\x00concat"

// Compile parses src and compiles it with every `..` turned into a call of
// the library's concat function, which checks the size of the string
// before building it. gopher-lua's own CONCAT instruction joins all its
// operands in one allocation that nothing can check in advance (180
// operands of 16 MiB are 2.9 GB); after the rewrite no chunk holds one,
// and Compile verifies that.
//
// The chunk is compiled as
//
//	local <concat> = ...
//	return (function(...) <src> end)()
//
// so the script's own ... stays empty, as with LoadString, and name is
// the chunk name in error messages ("<string>").
func Compile(src, name string) (*lua.FunctionProto, error) {
	chunk, err := parse.Parse(strings.NewReader(src), name)
	if err != nil {
		return nil, err
	}
	if err := rewriteStmts(chunk); err != nil {
		return nil, err
	}
	line := 0
	if len(chunk) > 0 {
		line = chunk[0].Line()
	}
	body := &ast.FunctionExpr{ParList: &ast.ParList{HasVargs: true}, Stmts: chunk}
	body.SetLine(line)
	call := &ast.FuncCallExpr{Func: body}
	call.SetLine(line)
	vararg := &ast.Comma3Expr{}
	vararg.SetLine(line)
	local := &ast.LocalAssignStmt{Names: []string{concatName}, Exprs: []ast.Expr{vararg}}
	local.SetLine(line)
	ret := &ast.ReturnStmt{Exprs: []ast.Expr{call}}
	ret.SetLine(line)
	proto, err := lua.Compile([]ast.Stmt{local, ret}, name)
	if err != nil {
		return nil, err
	}
	if err := noConcat(proto); err != nil {
		return nil, err
	}
	return proto, nil
}

// noConcat fails when a CONCAT instruction survived the rewrite, so a
// node type the rewrite does not know can never slip an unchecked `..`
// through.
func noConcat(p *lua.FunctionProto) error {
	for _, inst := range p.Code {
		if int(inst>>26) == lua.OP_CONCAT {
			return fmt.Errorf("internal error: the sandbox could not rewrite a '..' at line %d; please report this script", p.LineDefined)
		}
	}
	for _, child := range p.FunctionPrototypes {
		if err := noConcat(child); err != nil {
			return err
		}
	}
	return nil
}

func rewriteStmts(stmts []ast.Stmt) error {
	for _, s := range stmts {
		if err := rewriteStmt(s); err != nil {
			return err
		}
	}
	return nil
}

func rewriteExprs(exprs []ast.Expr) error {
	for i := range exprs {
		e, err := rewriteExpr(exprs[i])
		if err != nil {
			return err
		}
		exprs[i] = e
	}
	return nil
}

func rewriteStmt(s ast.Stmt) error {
	var err error
	switch s := s.(type) {
	case *ast.AssignStmt:
		if err := rewriteExprs(s.Lhs); err != nil {
			return err
		}
		return rewriteExprs(s.Rhs)
	case *ast.LocalAssignStmt:
		return rewriteExprs(s.Exprs)
	case *ast.FuncCallStmt:
		s.Expr, err = rewriteExpr(s.Expr)
		return err
	case *ast.DoBlockStmt:
		return rewriteStmts(s.Stmts)
	case *ast.WhileStmt:
		if s.Condition, err = rewriteExpr(s.Condition); err != nil {
			return err
		}
		return rewriteStmts(s.Stmts)
	case *ast.RepeatStmt:
		if s.Condition, err = rewriteExpr(s.Condition); err != nil {
			return err
		}
		return rewriteStmts(s.Stmts)
	case *ast.IfStmt:
		if s.Condition, err = rewriteExpr(s.Condition); err != nil {
			return err
		}
		if err := rewriteStmts(s.Then); err != nil {
			return err
		}
		return rewriteStmts(s.Else)
	case *ast.NumberForStmt:
		if s.Init, err = rewriteExpr(s.Init); err != nil {
			return err
		}
		if s.Limit, err = rewriteExpr(s.Limit); err != nil {
			return err
		}
		if s.Step != nil {
			if s.Step, err = rewriteExpr(s.Step); err != nil {
				return err
			}
		}
		return rewriteStmts(s.Stmts)
	case *ast.GenericForStmt:
		if err := rewriteExprs(s.Exprs); err != nil {
			return err
		}
		return rewriteStmts(s.Stmts)
	case *ast.FuncDefStmt:
		if s.Name != nil {
			if s.Name.Func != nil {
				if s.Name.Func, err = rewriteExpr(s.Name.Func); err != nil {
					return err
				}
			}
			if s.Name.Receiver != nil {
				if s.Name.Receiver, err = rewriteExpr(s.Name.Receiver); err != nil {
					return err
				}
			}
		}
		return rewriteStmts(s.Func.Stmts)
	case *ast.ReturnStmt:
		return rewriteExprs(s.Exprs)
	case *ast.BreakStmt, *ast.LabelStmt, *ast.GotoStmt:
		return nil
	}
	return fmt.Errorf("internal error: the sandbox does not know the Lua statement %T at line %d", s, s.Line())
}

func rewriteExpr(e ast.Expr) (ast.Expr, error) {
	var err error
	switch e := e.(type) {
	case nil:
		return nil, nil
	case *ast.TrueExpr, *ast.FalseExpr, *ast.NilExpr, *ast.NumberExpr, *ast.StringExpr, *ast.Comma3Expr, *ast.IdentExpr:
		return e, nil
	case *ast.AttrGetExpr:
		if e.Object, err = rewriteExpr(e.Object); err != nil {
			return nil, err
		}
		e.Key, err = rewriteExpr(e.Key)
		return e, err
	case *ast.TableExpr:
		for _, f := range e.Fields {
			if f.Key, err = rewriteExpr(f.Key); err != nil {
				return nil, err
			}
			if f.Value, err = rewriteExpr(f.Value); err != nil {
				return nil, err
			}
		}
		return e, nil
	case *ast.FuncCallExpr:
		if e.Func, err = rewriteExpr(e.Func); err != nil {
			return nil, err
		}
		if e.Receiver, err = rewriteExpr(e.Receiver); err != nil {
			return nil, err
		}
		return e, rewriteExprs(e.Args)
	case *ast.LogicalOpExpr:
		if e.Lhs, err = rewriteExpr(e.Lhs); err != nil {
			return nil, err
		}
		e.Rhs, err = rewriteExpr(e.Rhs)
		return e, err
	case *ast.RelationalOpExpr:
		if e.Lhs, err = rewriteExpr(e.Lhs); err != nil {
			return nil, err
		}
		e.Rhs, err = rewriteExpr(e.Rhs)
		return e, err
	case *ast.ArithmeticOpExpr:
		if e.Lhs, err = rewriteExpr(e.Lhs); err != nil {
			return nil, err
		}
		e.Rhs, err = rewriteExpr(e.Rhs)
		return e, err
	case *ast.UnaryMinusOpExpr:
		e.Expr, err = rewriteExpr(e.Expr)
		return e, err
	case *ast.UnaryNotOpExpr:
		e.Expr, err = rewriteExpr(e.Expr)
		return e, err
	case *ast.UnaryLenOpExpr:
		e.Expr, err = rewriteExpr(e.Expr)
		return e, err
	case *ast.FunctionExpr:
		return e, rewriteStmts(e.Stmts)
	case *ast.StringConcatOpExpr:
		// a .. b .. c is right-associative: Concat(a, Concat(b, c)). It
		// becomes one call with all operands, which concatenates from the
		// right as Lua does.
		var args []ast.Expr
		var cur ast.Expr = e
		for {
			c, ok := cur.(*ast.StringConcatOpExpr)
			if !ok {
				args = append(args, cur)
				break
			}
			args = append(args, c.Lhs)
			cur = c.Rhs
		}
		if err := rewriteExprs(args); err != nil {
			return nil, err
		}
		// An operand is one value: f() and ... give only their first.
		for _, a := range args {
			switch a := a.(type) {
			case *ast.FuncCallExpr:
				a.AdjustRet = true
			case *ast.Comma3Expr:
				a.AdjustRet = true
			}
		}
		fn := &ast.IdentExpr{Value: concatName}
		fn.SetLine(e.Line())
		call := &ast.FuncCallExpr{Func: fn, Args: args}
		call.SetLine(e.Line())
		call.SetLastLine(e.LastLine())
		return call, nil
	}
	return nil, fmt.Errorf("internal error: the sandbox does not know the Lua expression %T at line %d", e, e.Line())
}
