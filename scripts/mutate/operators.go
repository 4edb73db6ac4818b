package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"sort"
	"strconv"
)

// The names of the mutation operators, as printed in reports.
const (
	opRelational = "relational"   // a comparison operator is replaced
	opLogical    = "logical"      // && and || are swapped
	opNegateCond = "negate-cond"  // an if or for condition is negated
	opDropNot    = "drop-not"     // a unary ! is removed
	opBool       = "bool-literal" // true and false are swapped
	opInt        = "int-literal"  // an integer literal is changed
	opArith      = "arithmetic"   // + and -, * and / are swapped
	opDelete     = "delete-stmt"  // a statement is removed
	opAssignOp   = "arith-assign" // += and -=, *= and /= are swapped
)

// relational maps each comparison operator to the ones that replace it: its
// boundary twin (< and <=) and, for orderings, its reversal (< and >).
var relational = map[token.Token][]token.Token{
	token.LSS: {token.LEQ, token.GTR},
	token.LEQ: {token.LSS, token.GEQ},
	token.GTR: {token.GEQ, token.LSS},
	token.GEQ: {token.GTR, token.LEQ},
	token.EQL: {token.NEQ},
	token.NEQ: {token.EQL},
}

// swaps maps each logical, arithmetic and assignment operator to its
// replacement, with the operator name under which the swap is reported.
var swaps = map[token.Token]struct {
	to token.Token
	op string
}{
	token.LAND:       {token.LOR, opLogical},
	token.LOR:        {token.LAND, opLogical},
	token.ADD:        {token.SUB, opArith},
	token.SUB:        {token.ADD, opArith},
	token.MUL:        {token.QUO, opArith},
	token.QUO:        {token.MUL, opArith},
	token.ADD_ASSIGN: {token.SUB_ASSIGN, opAssignOp},
	token.SUB_ASSIGN: {token.ADD_ASSIGN, opAssignOp},
	token.MUL_ASSIGN: {token.QUO_ASSIGN, opAssignOp},
	token.QUO_ASSIGN: {token.MUL_ASSIGN, opAssignOp},
}

// generator collects the mutants of one file while its syntax tree is walked.
type generator struct {
	fset    *token.FileSet
	src     []byte
	mutants []Mutant
	// selectors holds the identifiers that name a field or method after a
	// dot, which are never mutated as boolean literals.
	selectors map[*ast.Ident]bool
}

// generate parses src, the contents of the file called name, and returns
// every mutant of it in a stable order (by position, then operator, then
// replacement), without IDs and without duplicates.
func generate(name string, src []byte) ([]Mutant, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	g := &generator{fset: fset, src: src, selectors: map[*ast.Ident]bool{}}
	ast.Inspect(file, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			g.selectors[sel.Sel] = true
		}
		return true
	})
	for _, decl := range file.Decls {
		// Imports and type declarations are left alone; functions,
		// constants and package-level variables are mutated.
		if gen, ok := decl.(*ast.GenDecl); ok && (gen.Tok == token.IMPORT || gen.Tok == token.TYPE) {
			continue
		}
		ast.Inspect(decl, g.visit)
	}
	return g.sorted(name), nil
}

// visit adds the mutants of one node; it is the ast.Inspect callback.
func (g *generator) visit(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.BinaryExpr:
		g.binary(n)
	case *ast.AssignStmt:
		if s, ok := swaps[n.Tok]; ok {
			g.replaceToken(n.TokPos, n.Tok, s.to, s.op)
		}
	case *ast.UnaryExpr:
		if n.Op == token.NOT {
			g.add(opDropNot, n.Pos(), n.End(), g.text(n.X))
		}
	case *ast.Ident:
		if !g.selectors[n] && (n.Name == "true" || n.Name == "false") {
			repl := "true"
			if n.Name == "true" {
				repl = "false"
			}
			g.add(opBool, n.Pos(), n.End(), repl)
		}
	case *ast.BasicLit:
		if n.Kind == token.INT {
			for _, repl := range intReplacements(n.Value) {
				g.add(opInt, n.Pos(), n.End(), repl)
			}
		}
	case *ast.IfStmt:
		g.negate(n.Cond)
	case *ast.ForStmt:
		if n.Cond != nil {
			g.negate(n.Cond)
		}
	case *ast.BlockStmt:
		g.deletions(n.List)
	case *ast.CaseClause:
		g.deletions(n.Body)
	case *ast.CommClause:
		g.deletions(n.Body)
	}
	return true
}

// binary adds the operator replacements of a binary expression.
func (g *generator) binary(n *ast.BinaryExpr) {
	for _, to := range relational[n.Op] {
		g.replaceToken(n.OpPos, n.Op, to, opRelational)
	}
	s, ok := swaps[n.Op]
	if !ok {
		return
	}
	if n.Op == token.ADD && (concatenatesString(n.X) || concatenatesString(n.Y)) {
		return // string concatenation: a - would not compile
	}
	g.replaceToken(n.OpPos, n.Op, s.to, s.op)
}

// concatenatesString reports whether e is a string literal, or a sum or
// parenthesis holding one, which marks a + as string concatenation.
func concatenatesString(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return e.Kind == token.STRING
	case *ast.ParenExpr:
		return concatenatesString(e.X)
	case *ast.BinaryExpr:
		return e.Op == token.ADD && (concatenatesString(e.X) || concatenatesString(e.Y))
	}
	return false
}

// negate adds the mutant that replaces a condition by its negation.
func (g *generator) negate(cond ast.Expr) {
	g.add(opNegateCond, cond.Pos(), cond.End(), "!("+g.text(cond)+")")
}

// deletions adds a mutant deleting each deletable statement of a list.
func (g *generator) deletions(list []ast.Stmt) {
	for _, s := range list {
		if deletable(s) {
			g.add(opDelete, s.Pos(), s.End(), "")
		}
	}
}

// deletable reports whether deleting s leaves code that is likely to
// compile and likely to matter: calls and other expression statements,
// sends, assignments that declare nothing and are not to _ alone, inc/dec,
// defer and go statements, and if statements without an else.
func deletable(s ast.Stmt) bool {
	switch s := s.(type) {
	case *ast.ExprStmt, *ast.SendStmt, *ast.IncDecStmt, *ast.DeferStmt, *ast.GoStmt:
		return true
	case *ast.AssignStmt:
		if s.Tok == token.DEFINE {
			return false
		}
		for _, lhs := range s.Lhs {
			if id, ok := lhs.(*ast.Ident); !ok || id.Name != "_" {
				return true
			}
		}
		return false // _ = x only keeps a name in use
	case *ast.IfStmt:
		return s.Else == nil
	}
	return false
}

// intReplacements returns the values an integer literal is changed to: n+1,
// and also 0 and n-1 where those differ from n and from each other.
func intReplacements(lit string) []string {
	n, err := strconv.ParseInt(lit, 0, 64)
	if err != nil || n < 0 {
		return nil // too large to change safely
	}
	var out []string
	if n < 1<<62 {
		out = append(out, strconv.FormatInt(n+1, 10))
	}
	if n != 0 {
		out = append(out, "0")
	}
	if n > 1 {
		out = append(out, strconv.FormatInt(n-1, 10))
	}
	return out
}

// replaceToken adds the mutant that replaces the operator from, at pos, by to.
func (g *generator) replaceToken(pos token.Pos, from, to token.Token, op string) {
	g.add(op, pos, pos+token.Pos(len(from.String())), to.String())
}

// add records one mutant replacing the source between from and to.
func (g *generator) add(op string, from, to token.Pos, repl string) {
	start := g.fset.Position(from)
	g.mutants = append(g.mutants, Mutant{
		Line:        start.Line,
		Col:         start.Column,
		Operator:    op,
		Start:       start.Offset,
		End:         g.fset.Position(to).Offset,
		Replacement: repl,
	})
}

// text returns the source text of a node.
func (g *generator) text(n ast.Node) string {
	return string(g.src[g.fset.Position(n.Pos()).Offset:g.fset.Position(n.End()).Offset])
}

// sorted returns the collected mutants in their stable order, duplicates
// removed, each with its file name and snippets filled in.
func (g *generator) sorted(name string) []Mutant {
	ms := g.mutants
	sort.SliceStable(ms, func(i, j int) bool {
		a, b := ms[i], ms[j]
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		if a.End != b.End {
			return a.End < b.End
		}
		if a.Operator != b.Operator {
			return a.Operator < b.Operator
		}
		return a.Replacement < b.Replacement
	})
	out := make([]Mutant, 0, len(ms))
	for i, m := range ms {
		if i > 0 && m.Start == ms[i-1].Start && m.End == ms[i-1].End && m.Replacement == ms[i-1].Replacement {
			continue
		}
		m.File = name
		m.snippets(g.src)
		out = append(out, m)
	}
	return out
}
