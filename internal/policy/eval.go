package policy

import (
	"strconv"
	"strings"
)

// Principal is the caller a request is evaluated for.
type Principal struct {
	AccountID string // the caller's account; derived from ARN when empty
	// ARN is arn:aws:iam::ACCOUNT:user/NAME for an IAM user or
	// arn:aws:iam::ACCOUNT:root for the account itself; empty means the
	// account root.
	ARN       string
	Anonymous bool // unauthenticated; AccountID and ARN are ignored
}

// Account returns the principal's account id ("" when anonymous).
func (p Principal) Account() string {
	if p.Anonymous {
		return ""
	}
	if p.AccountID != "" {
		return p.AccountID
	}
	return arnAccount(p.ARN)
}

// arn returns the principal's ARN, the account root's when ARN is empty.
func (p Principal) arn() string {
	if p.Anonymous {
		return ""
	}
	if p.ARN != "" {
		return p.ARN
	}
	if a := p.Account(); a != "" {
		return "arn:aws:iam::" + a + ":root"
	}
	return ""
}

// isRoot reports whether the principal is its account's root.
func (p Principal) isRoot() bool {
	return !p.Anonymous && (p.ARN == "" || strings.HasSuffix(p.ARN, ":root"))
}

// Request is what is being authorized.
type Request struct {
	Principal Principal
	Action    string // e.g. "ecr:PutImage"; matched case-insensitively
	Resource  string // the resource's ARN
	// ResourceAccount owns the resource; derived from Resource when empty.
	ResourceAccount string
	Context         Context
}

// Context holds the request's condition keys and their values. Keys are
// case-insensitive, as in AWS: "aws:SourceIp", "aws:PrincipalAccount",
// "aws:PrincipalArn", "aws:CurrentTime" (RFC 3339), "aws:EpochTime",
// "aws:SecureTransport" ("true"/"false"), "aws:RequestTag/<k>",
// "aws:TagKeys", "ecr:ResourceTag/<k>", and any others, such as
// "wharf:ImageMaxSeverity". A key with no values counts as absent.
//
// When the context does not set them, aws:PrincipalAccount,
// aws:PrincipalArn, aws:PrincipalType ("Account", "User" or "Anonymous"),
// aws:username (IAM users only) and aws:ResourceAccount are derived from the
// request. Nothing is derived for time: set aws:CurrentTime and
// aws:EpochTime for date conditions to see them.
type Context map[string][]string

// Get returns the values of key, compared case-insensitively.
func (c Context) Get(key string) ([]string, bool) {
	if v, ok := c[key]; ok {
		return v, len(v) > 0
	}
	for k, v := range c {
		if strings.EqualFold(k, key) {
			return v, len(v) > 0
		}
	}
	return nil, false
}

// Set sets the values of key, replacing those of any key that differs
// only in case. c must not be nil.
func (c Context) Set(key string, values ...string) {
	for k := range c {
		if k != key && strings.EqualFold(k, key) {
			delete(c, k)
		}
	}
	c[key] = values
}

// evalCtx is a request prepared for evaluation.
type evalCtx struct {
	req        *Request
	anonymous  bool
	account    string
	arn        string
	root       bool
	resAccount string
	derived    [5][1]string // values of derived keys, indexed as derivedKeys
}

var derivedKeys = [...]string{"aws:PrincipalAccount", "aws:PrincipalArn", "aws:PrincipalType", "aws:username", "aws:ResourceAccount"}

func newEvalCtx(req *Request) *evalCtx {
	e := &evalCtx{req: req, anonymous: req.Principal.Anonymous}
	e.account = req.Principal.Account()
	e.arn = req.Principal.arn()
	e.root = req.Principal.isRoot()
	e.resAccount = req.ResourceAccount
	if e.resAccount == "" {
		e.resAccount = arnAccount(req.Resource)
	}
	e.derived[0][0] = e.account
	e.derived[1][0] = e.arn
	switch {
	case e.anonymous:
		e.derived[2][0] = "Anonymous"
	case e.root:
		e.derived[2][0] = "Account"
	default:
		e.derived[2][0] = "User"
	}
	if _, rest, ok := strings.Cut(e.arn, ":user/"); ok && arnAccount(e.arn) != "" {
		e.derived[3][0] = rest[strings.LastIndexByte(rest, '/')+1:]
	}
	e.derived[4][0] = e.resAccount
	return e
}

// lookup returns the request values of a condition key.
func (e *evalCtx) lookup(key string) ([]string, bool) {
	if v, ok := e.req.Context.Get(key); ok {
		return v, true
	}
	if len(key) < 4 || !strings.EqualFold(key[:4], "aws:") {
		return nil, false
	}
	for i, k := range derivedKeys {
		if strings.EqualFold(k, key) {
			if e.derived[i][0] == "" {
				return nil, false
			}
			return e.derived[i][:], true
		}
	}
	return nil, false
}

// resolve substitutes the policy variables of s: ${key} is the single
// value of a request key (aws:username, aws:PrincipalAccount, any context
// key); ${key, 'default'} falls back to default (in which a doubled
// single quote stands for one);
// ${*}, ${?} and ${$} are literal characters. For glob patterns, the
// substituted text is escaped so it matches literally. ok is false when a
// variable has no value and no default: AWS then ignores the statement.
// Text that is not a well-formed variable stays as written.
func resolve(s string, e *evalCtx, forGlob bool) (string, bool) {
	var b strings.Builder
	b.Grow(len(s) + 16)
	lit := func(t string) {
		for i := 0; i < len(t); i++ {
			c := t[i]
			if forGlob && (c == '*' || c == '?' || c == '\\') {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
	}
	raw := func(t string) { // policy text: wildcards stay wildcards
		if !forGlob {
			b.WriteString(t)
			return
		}
		for i := 0; i < len(t); i++ {
			if t[i] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(t[i])
		}
	}
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			raw(s)
			return b.String(), true
		}
		raw(s[:i])
		name, def, hasDef, n, ok := parseVariable(s[i+2:])
		if !ok {
			raw("${")
			s = s[i+2:]
			continue
		}
		s = s[i+2+n:]
		switch name {
		case "*", "?", "$":
			lit(name)
			continue
		}
		if v, found := e.lookup(name); found && len(v) == 1 {
			lit(v[0])
		} else if hasDef {
			lit(def)
		} else {
			return "", false
		}
	}
}

// parseVariable parses the inside of "${...}" at the start of s: a name,
// optionally ", 'default'", then "}". n is the length consumed including
// the closing brace.
func parseVariable(s string) (name, def string, hasDef bool, n int, ok bool) {
	end := strings.IndexAny(s, ",}")
	if end < 0 {
		return "", "", false, 0, false
	}
	name = strings.TrimSpace(s[:end])
	if name == "" || strings.ContainsAny(name, " \t'{$") && name != "$" {
		return "", "", false, 0, false
	}
	if s[end] == '}' {
		return name, "", false, end + 1, true
	}
	i := end + 1
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i >= len(s) || s[i] != '\'' {
		return "", "", false, 0, false
	}
	i++
	var d strings.Builder
	for {
		if i >= len(s) {
			return "", "", false, 0, false
		}
		if s[i] == '\'' {
			if i+1 < len(s) && s[i+1] == '\'' {
				d.WriteByte('\'')
				i += 2
				continue
			}
			i++
			break
		}
		d.WriteByte(s[i])
		i++
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i >= len(s) || s[i] != '}' {
		return "", "", false, 0, false
	}
	return name, d.String(), true, i + 1, true
}

// principal match levels.
const (
	princNone    = iota
	princAccount // matched through the caller's account (id or root ARN)
	princDirect  // matched the caller itself, "*", or no Principal element
)

func (cs *cstmt) principalLevel(e *evalCtx) int {
	if cs.princ == nil {
		return princDirect
	}
	l := principalsMatch(cs.princ, e)
	if cs.notPrinc {
		if l == princNone {
			return princDirect
		}
		return princNone
	}
	return l
}

func principalsMatch(p *Principals, e *evalCtx) int {
	if p.All {
		return princDirect
	}
	best := princNone
	for _, a := range p.AWS {
		switch {
		case a == "*":
			return princDirect
		case e.anonymous:
		case isAccountID(a):
			if a == e.account {
				best = princAccount
			}
		case strings.HasSuffix(a, ":root"):
			if arnAccount(a) == e.account {
				best = princAccount
			}
		case a == e.arn:
			return princDirect
		}
	}
	if best == princAccount && e.root {
		return princDirect // the account itself is asking
	}
	return best
}

func (cs *cstmt) actionMatches(action string) bool {
	m := false
	for _, a := range cs.actions {
		if glob(a, action, true, false) {
			m = true
			break
		}
	}
	return m != cs.notAct
}

// resourceMatches reports whether the statement covers the resource; ok
// is false when a policy variable could not be resolved.
func (cs *cstmt) resourceMatches(e *evalCtx) (match, ok bool) {
	if cs.res == nil {
		return true, true
	}
	m := false
	for _, r := range cs.res {
		esc := false
		if cs.resVars && strings.Contains(r, "${") {
			var ok bool
			if r, ok = resolve(r, e, true); !ok {
				return false, false
			}
			esc = true
		}
		if glob(r, e.req.Resource, false, esc) {
			m = true
			break
		}
	}
	return m != cs.notRes, true
}

// applies reports whether the statement applies to the request, and the
// principal match level when it does.
func (cs *cstmt) applies(e *evalCtx) (bool, int) {
	if !cs.actionMatches(e.req.Action) {
		return false, princNone
	}
	level := cs.principalLevel(e)
	if level == princNone {
		return false, princNone
	}
	if m, ok := cs.resourceMatches(e); !m || !ok {
		return false, princNone
	}
	for i := range cs.conds {
		if r, ok := cs.conds[i].eval(e); !r || !ok {
			return false, princNone
		}
	}
	return true, level
}

// outcome is the result of evaluating one policy.
type outcome struct {
	effect Effect
	stmt   *cstmt // the deciding statement
	level  int    // principal match level of an Allow
	err    error  // the policy is invalid (hand-built)
}

func (p *Policy) program() (*program, error) {
	if p.prog != nil {
		return p.prog, nil
	}
	return compile(p)
}

func (p *Policy) eval(e *evalCtx) outcome {
	prog, err := p.program()
	if err != nil {
		return outcome{effect: Deny, err: err}
	}
	var out outcome
	for i := range prog.stmts {
		cs := &prog.stmts[i]
		ok, level := cs.applies(e)
		if !ok {
			continue
		}
		if cs.effect == Deny {
			return outcome{effect: Deny, stmt: cs}
		}
		if out.effect == NoMatch || level > out.level {
			out = outcome{effect: Allow, stmt: cs, level: level}
		}
	}
	return out
}

// Evaluate evaluates the policy alone: Deny when a Deny statement applies,
// else Allow when an Allow statement applies, else NoMatch. A statement
// applies when its action, principal (if it names one), resource (if it
// names one) and every condition match. A Policy that is not valid (one
// built by hand) evaluates to Deny.
func (p *Policy) Evaluate(req Request) Effect {
	return p.eval(newEvalCtx(&req)).effect
}

// Decision is the outcome of Authorize.
type Decision struct {
	Allowed bool
	// Reason says why, naming the policy kind, its index in the list given
	// to Authorize, and the statement (by Sid, or Statement[i]).
	Reason string
	// MatchedSid is the Sid of the deciding statement, if it has one: the
	// denying statement, the allowing one, or, for a cross-account allow,
	// the resource policy's statement.
	MatchedSid string
	// DenyPolicy and DenyStatement name the statement of an explicit deny
	// (DenyPolicy is nil otherwise), for callers that explain a denial
	// (see Policy.StatementConditionsHold).
	DenyPolicy    *Policy
	DenyStatement int
}

// Authorize decides a request the way AWS combines identity and resource
// policies (the ones that apply to the principal and to the resource):
//
//   - an explicit Deny in any policy denies;
//   - same account (principal account == resource account): allowed when
//     an identity policy or a resource policy allows. A resource policy
//     statement that names the principal's account (its id or
//     arn:aws:iam::ACCOUNT:root) rather than the principal itself delegates
//     to the account's identity policies, as in AWS, so on its own it does
//     not allow a user of that account (it does allow the root);
//   - cross account: allowed only when an identity policy allows and a
//     resource policy allows;
//   - anonymous: identity policies are ignored; allowed when a resource
//     policy allows, which only a statement naming "*" can do;
//   - otherwise denied implicitly.
//
// The resource account's root is not allowed implicitly: callers decide
// any administrator shortcut. Nil policies are skipped; an invalid
// hand-built policy counts as an explicit Deny.
func Authorize(req Request, identity []*Policy, resource []*Policy) Decision {
	e := newEvalCtx(&req)
	var idAllow, resAllow, resAccountAllow found // resAccountAllow: through the account only
	if !e.anonymous {
		if d, deny := scan(e, Identity, identity, &idAllow, nil); deny {
			return d
		}
	}
	if d, deny := scan(e, Resource, resource, &resAllow, &resAccountAllow); deny {
		return d
	}

	what := req.Action + " on " + req.Resource
	switch {
	case e.anonymous:
		if resAllow.ok() {
			return resAllow.allowed("anonymous access allowed by ")
		}
		return Decision{Reason: "implicit deny: no resource policy allows anonymous " + what}
	case e.account != "" && e.account == e.resAccount:
		if idAllow.ok() {
			return idAllow.allowed("allowed by ")
		}
		if resAllow.ok() {
			return resAllow.allowed("allowed by ")
		}
		if resAccountAllow.ok() {
			return Decision{Reason: "implicit deny: " + resAccountAllow.where() + " grants " + req.Action +
				" to account " + e.account + ", which delegates to its identity policies, and none allows it"}
		}
		return Decision{Reason: "implicit deny: no policy allows " + what}
	default:
		r := resAllow
		if !r.ok() {
			r = resAccountAllow
		}
		switch {
		case idAllow.ok() && r.ok():
			return Decision{
				Allowed:    true,
				Reason:     "cross-account access allowed by " + idAllow.where() + " and " + r.where(),
				MatchedSid: r.stmt.sid,
			}
		case idAllow.ok():
			return Decision{Reason: "implicit deny: cross-account " + what + " is allowed by " + idAllow.where() + " but by no resource policy"}
		case r.ok():
			return Decision{Reason: "implicit deny: cross-account " + what + " is allowed by " + r.where() + " but by no identity policy"}
		}
		return Decision{Reason: "implicit deny: no policy allows cross-account " + what}
	}
}

// found is an allowing statement found by scan.
type found struct {
	kind Kind
	idx  int
	stmt *cstmt
}

func (f *found) ok() bool { return f.stmt != nil }

func (f *found) allowed(why string) Decision {
	return Decision{Allowed: true, Reason: why + f.where(), MatchedSid: f.stmt.sid}
}

func (f *found) where() string { return where(f.kind, f.idx, f.stmt) }

// scan evaluates the policies of one kind. It returns a denying Decision
// on the first explicit Deny; otherwise it records the first Allow that
// matched the principal directly in direct, and the first that matched
// only through the principal's account in account (when account is nil,
// any Allow goes to direct).
func scan(e *evalCtx, kind Kind, list []*Policy, direct, account *found) (Decision, bool) {
	for i, p := range list {
		if p == nil {
			continue
		}
		out := p.eval(e)
		switch out.effect {
		case Deny:
			if out.err != nil {
				return Decision{Reason: kind.String() + " #" + strconv.Itoa(i) + " is invalid: " + out.err.Error()}, true
			}
			return Decision{Reason: "explicit deny in " + where(kind, i, out.stmt), MatchedSid: out.stmt.sid,
				DenyPolicy: p, DenyStatement: out.stmt.index}, true
		case Allow:
			dst := direct
			if account != nil && out.level != princDirect {
				dst = account
			}
			if !dst.ok() {
				*dst = found{kind, i, out.stmt}
			}
		}
	}
	return Decision{}, false
}

// where names a statement: `identity policy #0, Sid "DenyPush"` or
// `resource policy #1, Statement[2]` when it has no Sid.
func where(k Kind, idx int, cs *cstmt) string {
	if cs.sid != "" {
		return k.String() + " #" + strconv.Itoa(idx) + ", Sid " + strconv.Quote(cs.sid)
	}
	return k.String() + " #" + strconv.Itoa(idx) + ", Statement[" + strconv.Itoa(cs.index) + "]"
}
