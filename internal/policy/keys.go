package policy

import (
	"slices"
	"strings"
)

// addService records the service prefix of a condition key.
func (cs *cstmt) addService(key string) {
	svc, _, _ := strings.Cut(key, ":")
	svc = strings.ToLower(svc)
	if !slices.Contains(cs.services, svc) {
		cs.services = append(cs.services, svc)
	}
}

// addVarServices records the keys named by the policy variables of s.
func (cs *cstmt) addVarServices(s string) {
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return
		}
		s = s[i+2:]
		name, _, _, n, ok := parseVariable(s)
		if !ok {
			continue
		}
		s = s[n:]
		if strings.Contains(name, ":") {
			cs.addService(name)
		}
	}
}

// UsesKeysOf reports whether any statement reads a condition key of the
// service prefix svc (compared case-insensitively: "wharf" for
// "wharf:ImageMaxSeverity"), in a condition or in a policy variable.
// Callers use it to compute expensive keys only for the policies that read
// them.
func (p *Policy) UsesKeysOf(svc string) bool {
	prog, err := p.program()
	if err != nil {
		return false
	}
	for _, s := range prog.services {
		if strings.EqualFold(s, svc) {
			return true
		}
	}
	return false
}

// statement returns the compiled statement whose index in the original
// document is i (statements keep their index through WithoutStatement, as
// Decision.DenyStatement reports it).
func (p *Policy) statement(i int) (*program, int) {
	prog, err := p.program()
	if err != nil {
		return nil, -1
	}
	for j := range prog.stmts {
		if prog.stmts[j].index == i {
			return prog, j
		}
	}
	return nil, -1
}

// StatementUsesKeysOf is UsesKeysOf for statement i alone (i as in
// Decision.DenyStatement).
func (p *Policy) StatementUsesKeysOf(i int, svc string) bool {
	prog, j := p.statement(i)
	if j < 0 {
		return false
	}
	for _, s := range prog.stmts[j].services {
		if strings.EqualFold(s, svc) {
			return true
		}
	}
	return false
}

// StatementConditionsHold reports whether every condition of statement i
// holds for req (the statement's action, principal and resource are not
// looked at). A denial is explained with it: which variants of the
// request's context would the denying statement still deny?
func (p *Policy) StatementConditionsHold(i int, req Request) bool {
	prog, j := p.statement(i)
	if j < 0 {
		return false
	}
	e := newEvalCtx(&req)
	for k := range prog.stmts[j].conds {
		if r, ok := prog.stmts[j].conds[k].eval(e); !r || !ok {
			return false
		}
	}
	return true
}

// WithoutStatement returns a copy of p without statement i (i as in
// Decision.DenyStatement; p itself when there is none). Statements keep
// their index in reasons. It lets a caller ask whether a request would be
// allowed but for one denying statement.
func (p *Policy) WithoutStatement(i int) *Policy {
	prog, j := p.statement(i)
	if j < 0 {
		return p
	}
	q := *p
	q.Statement = nil // the compiled form is what evaluates; this copy is not for printing
	np := *prog
	np.stmts = slices.Delete(slices.Clone(prog.stmts), j, j+1)
	q.prog = &np
	return &q
}
