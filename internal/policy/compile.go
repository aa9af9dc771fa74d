package policy

import (
	"fmt"
	"slices"
	"strings"
)

// program is the evaluable form of a Policy, built once by Parse.
type program struct {
	vars  bool // policy variables are substituted (Version 2012-10-17)
	stmts []cstmt
	// services are the lower-case prefixes ("aws", "ecr", "wharf") of the
	// condition keys the policy reads, in conditions or in variables.
	services []string
}

type cstmt struct {
	index    int
	sid      string
	effect   Effect
	princ    *Principals // Principal or NotPrincipal; nil: any principal
	notPrinc bool
	actions  []string // Action or NotAction
	notAct   bool
	res      []string // Resource or NotResource; nil: any resource
	notRes   bool
	resVars  bool // some resource pattern holds a policy variable
	conds    []ccond
	services []string // see program.services
}

// compile validates p and builds its program. Errors name the statement.
func compile(p *Policy) (*program, error) {
	switch p.Version {
	case Version2012, Version2008, "":
	default:
		return nil, errorf("", "invalid Version %q: must be %q or %q", p.Version, Version2012, Version2008)
	}
	if len(p.Statement) == 0 {
		return nil, errorf("", "missing Statement")
	}
	prog := &program{vars: p.Version == Version2012, stmts: make([]cstmt, len(p.Statement))}
	sids := make(map[string]int, len(p.Statement))
	for i := range p.Statement {
		st := &p.Statement[i]
		path := fmt.Sprintf("Statement[%d]", i)
		if st.Sid != "" {
			if j, dup := sids[st.Sid]; dup {
				return nil, errorf(path, "duplicate Sid %q (also Statement[%d])", st.Sid, j)
			}
			sids[st.Sid] = i
		}
		cs, err := compileStatement(st, path, prog.vars)
		if err != nil {
			return nil, err
		}
		cs.index = i
		prog.stmts[i] = cs
		for _, svc := range cs.services {
			if !slices.Contains(prog.services, svc) {
				prog.services = append(prog.services, svc)
			}
		}
	}
	return prog, nil
}

func compileStatement(st *Statement, path string, vars bool) (cstmt, error) {
	cs := cstmt{sid: st.Sid, effect: st.Effect}
	if st.Effect != Allow && st.Effect != Deny {
		return cs, errorf(path, "Invalid effect %q: must be \"Allow\" or \"Deny\"", st.Effect)
	}

	switch {
	case st.Action != nil && st.NotAction != nil:
		return cs, errorf(path, "Action and NotAction are both present")
	case st.Action == nil && st.NotAction == nil:
		return cs, errorf(path, "missing Action or NotAction")
	case st.NotAction != nil:
		cs.actions, cs.notAct = st.NotAction, true
	default:
		cs.actions = st.Action
	}
	if len(cs.actions) == 0 {
		return cs, errorf(path, "Action must not be empty")
	}
	for _, a := range cs.actions {
		if err := checkAction(a); err != nil {
			return cs, errorf(path, "%v", err)
		}
	}

	switch {
	case st.Resource != nil && st.NotResource != nil:
		return cs, errorf(path, "Resource and NotResource are both present")
	case st.NotResource != nil:
		cs.res, cs.notRes = st.NotResource, true
	default:
		cs.res = st.Resource
	}
	if cs.res != nil && len(cs.res) == 0 {
		return cs, errorf(path, "Resource must not be empty")
	}
	for _, r := range cs.res {
		// "*", an ARN, or an ARN prefix ending in a wildcard ("arn:aws:ecr:*").
		if r != "*" && !arnSegments(r) && !(strings.HasPrefix(r, "arn:") && strings.HasSuffix(r, "*")) {
			return cs, errorf(path, "invalid resource %q: must be \"*\" or an ARN (arn:partition:service:region:account:resource)", r)
		}
		if vars && strings.Contains(r, "${") {
			cs.resVars = true
		}
	}

	switch {
	case st.Principal != nil && st.NotPrincipal != nil:
		return cs, errorf(path, "Principal and NotPrincipal are both present")
	case st.NotPrincipal != nil:
		cs.princ, cs.notPrinc = st.NotPrincipal, true
	default:
		cs.princ = st.Principal
	}
	if cs.princ != nil {
		if err := checkPrincipals(cs.princ, cs.notPrinc); err != nil {
			return cs, errorf(path, "%v", err)
		}
	}

	cs.conds = make([]ccond, 0, len(st.Condition))
	for i := range st.Condition {
		c, err := compileCondition(&st.Condition[i], vars)
		if err != nil {
			return cs, errorf(path, "%v", err)
		}
		cs.conds = append(cs.conds, c)
		cs.addService(c.key)
		if c.anyVar {
			for _, v := range c.vals {
				cs.addVarServices(v)
			}
		}
	}
	if cs.resVars {
		for _, r := range cs.res {
			cs.addVarServices(r)
		}
	}
	return cs, nil
}

// checkAction accepts "*" and "service:pattern": the service prefix is
// literal, the rest may hold the wildcards '*' and '?'.
func checkAction(a string) error {
	if a == "*" {
		return nil
	}
	svc, name, ok := strings.Cut(a, ":")
	if !ok || svc == "" {
		return fmt.Errorf("invalid action %q: actions must be prefixed by a service, e.g. \"ecr:BatchGetImage\"", a)
	}
	for i := 0; i < len(svc); i++ {
		c := svc[i]
		if !(isAlnum(c) || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("invalid action %q: bad character %q in service prefix", a, c)
		}
	}
	if name == "" {
		return fmt.Errorf("invalid action %q: missing action name after the service prefix", a)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(isAlnum(c) || c == '*' || c == '?' || c == '-' || c == '_') {
			return fmt.Errorf("invalid action %q: bad character %q in action name", a, c)
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func checkPrincipals(p *Principals, not bool) error {
	if p.All {
		if not {
			return fmt.Errorf("invalid principal \"*\": NotPrincipal cannot exclude everyone")
		}
		if len(p.AWS)+len(p.Service)+len(p.Federated)+len(p.CanonicalUser) > 0 {
			return fmt.Errorf("invalid principal: \"*\" cannot be combined with other principals")
		}
		return nil
	}
	if len(p.AWS)+len(p.Service)+len(p.Federated)+len(p.CanonicalUser) == 0 {
		return fmt.Errorf("invalid principal: no principal named")
	}
	for _, a := range p.AWS {
		if a == "*" {
			if not {
				return fmt.Errorf("invalid principal \"*\": NotPrincipal cannot exclude everyone")
			}
			continue
		}
		if !validAWSPrincipal(a) {
			return fmt.Errorf("invalid principal %q: want \"*\", a 12-digit account id, or an IAM ARN such as arn:aws:iam::123456789012:root or arn:aws:iam::123456789012:user/name", a)
		}
	}
	for _, list := range [][]string{p.Service, p.Federated, p.CanonicalUser} {
		for _, s := range list {
			if s == "" || strings.ContainsAny(s, " \t\r\n") {
				return fmt.Errorf("invalid principal %q", s)
			}
		}
	}
	return nil
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validAWSPrincipal accepts an account id or an IAM/STS principal ARN:
// arn:PARTITION:iam::ACCOUNT:root|user/...|role/... or
// arn:PARTITION:sts::ACCOUNT:assumed-role/...|federated-user/... .
// Wildcards are not allowed in principal ARNs.
func validAWSPrincipal(s string) bool {
	if isAccountID(s) {
		return true
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[3] != "" || !isAccountID(parts[4]) {
		return false
	}
	for i := 0; i < len(parts[1]); i++ {
		if c := parts[1][i]; !(c >= 'a' && c <= 'z' || c == '-') {
			return false
		}
	}
	res := parts[5]
	var kinds []string
	switch parts[2] {
	case "iam":
		if res == "root" {
			return true
		}
		kinds = []string{"user/", "role/"}
	case "sts":
		kinds = []string{"assumed-role/", "federated-user/"}
	default:
		return false
	}
	for _, k := range kinds {
		if name, ok := strings.CutPrefix(res, k); ok {
			return validPrincipalName(name)
		}
	}
	return false
}

// validPrincipalName checks "path/name" of an IAM user or role: IAM's
// name characters, path separators, no empty last element.
func validPrincipalName(s string) bool {
	if s == "" || strings.HasSuffix(s, "/") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isAlnum(c) || strings.IndexByte("+=,.@_-/", c) >= 0) {
			return false
		}
	}
	return true
}
