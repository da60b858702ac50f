package search

import (
	"fmt"
	"strings"

	"github.com/dccfhir/dccfhir/fhir/fhirpath"
	"github.com/dccfhir/dccfhir/fhir/model"
)

// evaluator is a compiled search expression: the fast path or FHIRPath.
type evaluator interface {
	// eval appends to out the nodes the expression selects from focus
	// (the resource root when atRoot) within resource root.
	eval(focus node, root map[string]any, atRoot bool, out []node) ([]node, error)
}

// compile prepares p's expression (and its components') for extraction. A
// parameter on an abstract base (Resource, DomainResource) is never
// extracted and is left uncompiled.
func (p *Param) compile() error {
	p.eval, p.comps = nil, nil
	if p.Unsupported != "" || p.Expression == "" {
		return nil
	}
	if t := model.Lookup(p.Base); t == nil || t.Abstract {
		return nil
	}
	ev, types, err := compileExpr(p.Expression, []string{p.Base})
	if err != nil {
		return fmt.Errorf("search parameter %s %s: %w", p.Base, p.Code, err)
	}
	p.eval = ev
	for _, c := range p.Components {
		var cev evaluator
		if types != nil {
			cev, _, err = compileExpr(c.Expression, types)
		} else {
			cev, err = compileFHIRPath(c.Expression)
		}
		if err != nil {
			return fmt.Errorf("search parameter %s %s component %s: %w", p.Base, p.Code, c.Code, err)
		}
		p.comps = append(p.comps, cev)
	}
	return nil
}

// compileExpr compiles expr on focus types start, on the fast path when it
// can; types are the result types when known.
func compileExpr(expr string, start []string) (evaluator, []string, error) {
	fe, err := compileFast(expr, start)
	if err == nil {
		return fe, fe.types, nil
	}
	ev, ferr := compileFHIRPath(expr)
	if ferr != nil {
		return nil, nil, ferr
	}
	return ev, nil, nil
}

func (fe *fastExpr) eval(focus node, root map[string]any, _ bool, out []node) ([]node, error) {
	for _, ops := range fe.branches {
		out = evalOps(ops, focus, root, out)
	}
	return out, nil
}

// fpExpr is an expression only the general FHIRPath engine handles.
type fpExpr struct{ e *fhirpath.Expression }

func compileFHIRPath(expr string) (evaluator, error) {
	e, err := fhirpath.Compile(expr)
	if err != nil {
		return nil, err
	}
	return fpExpr{e}, nil
}

func (f fpExpr) eval(focus node, root map[string]any, atRoot bool, out []node) ([]node, error) {
	var ns []fhirpath.Node
	var err error
	if atRoot {
		ns, err = f.e.Evaluate(root, nil)
	} else {
		ns, err = f.e.EvaluateNode(fhirpath.Node{Value: focus.v, Type: focus.t, Path: []fhirpath.Step{}}, root, nil)
	}
	if err != nil {
		return out, err
	}
	for _, n := range ns {
		out = append(out, node{v: n.Value, t: fhirType(n.Type)})
	}
	return out, nil
}

// fhirType maps FHIRPath System types of computed values to FHIR types.
func fhirType(t string) string {
	s, ok := strings.CutPrefix(t, "System.")
	if !ok {
		return strings.TrimPrefix(t, "FHIR.")
	}
	switch s {
	case "String":
		return "string"
	case "Boolean":
		return "boolean"
	case "Integer":
		return "integer"
	case "Decimal":
		return "decimal"
	case "Date":
		return "date"
	case "DateTime":
		return "dateTime"
	case "Time":
		return "time"
	}
	return s
}
