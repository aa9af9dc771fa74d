package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Policy language versions.
const (
	Version2012 = "2012-10-17" // current; enables policy variables
	Version2008 = "2008-10-17" // legacy; the default when Version is absent
)

// Effect is the effect of a statement, and the outcome of evaluating one
// policy against a request.
type Effect uint8

// Effects. NoMatch is only an evaluation outcome: no statement applied.
const (
	NoMatch Effect = iota
	Allow
	Deny
)

// String returns "Allow", "Deny" or "NoMatch".
func (e Effect) String() string {
	switch e {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	case NoMatch:
		return "NoMatch"
	}
	return fmt.Sprintf("Effect(%d)", uint8(e))
}

// Kind is the kind of a policy: where it is attached decides which
// elements it must and must not have, and how Authorize combines it.
type Kind uint8

// Kinds of policy.
const (
	// Identity policies are attached to a user (or role, or group); their
	// principal is implicit, so they have no Principal and need a Resource.
	Identity Kind = iota + 1
	// Resource policies are attached to a resource: an ECR repository
	// policy or registry policy. They must name a Principal; Resource is
	// optional (it defaults to the resource the policy is attached to).
	Resource
)

// String returns "identity policy" or "resource policy".
func (k Kind) String() string {
	switch k {
	case Identity:
		return "identity policy"
	case Resource:
		return "resource policy"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Policy is a parsed, validated policy document. Values returned by Parse
// are immutable and safe for concurrent use: Evaluate and Authorize use a
// form compiled by Parse, so changing the fields afterwards has no effect
// on evaluation. A Policy built by hand (not by Parse) is validated and
// compiled on every evaluation, and fails closed (Deny) when invalid.
type Policy struct {
	Version   string // Version2012 or Version2008 (also when absent in the document)
	ID        string // the document's "Id", if any
	Statement []Statement

	prog *program
}

// Statement is one statement of a policy. Exactly one of Action and
// NotAction is set; at most one of Resource and NotResource, and of
// Principal and NotPrincipal. String values are kept as written (numbers and
// booleans in the document are kept as their JSON text).
type Statement struct {
	Sid          string
	Effect       Effect // Allow or Deny
	Principal    *Principals
	NotPrincipal *Principals
	Action       []string
	NotAction    []string
	Resource     []string
	NotResource  []string
	Condition    []Condition // in document order; all must hold
}

// Principals is the value of a Principal or NotPrincipal element.
type Principals struct {
	// All is the bare "*" form ("Principal": "*"): everyone, including
	// anonymous callers. {"AWS": "*"} is kept as AWS: ["*"] and means the
	// same.
	All bool
	// AWS holds "*", 12-digit account ids, and IAM ARNs
	// (arn:aws:iam::123456789012:root, ...:user/name, ...:role/name,
	// arn:aws:sts::123456789012:assumed-role/role/session).
	AWS []string
	// Service, Federated and CanonicalUser are accepted and kept; Wharf
	// callers are never such principals, so they match nothing.
	Service       []string
	Federated     []string
	CanonicalUser []string
}

// Condition is one test of a Condition block: an operator applied to one
// context key with one or more values.
type Condition struct {
	Operator string   // as written, e.g. "ForAnyValue:StringLike", "DateLessThanIfExists"
	Key      string   // as written; compared case-insensitively with request keys
	Values   []string // JSON numbers and booleans kept as their text
}

// Error is a parse or validation error. Path names the offending element
// ("Statement[1]", "Version"); it is empty for errors about the whole
// document. Line and Column (1-based) are set for JSON syntax errors.
type Error struct {
	Path         string
	Msg          string
	Line, Column int
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

func errorf(path, format string, args ...any) *Error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks that p is well formed for a policy of kind k: Parse
// already checks everything that does not depend on the kind. An identity
// policy must not name a principal and needs Resource or NotResource in
// every statement; a resource policy needs Principal or NotPrincipal in
// every statement.
func (p *Policy) Validate(k Kind) error {
	if p.prog == nil {
		if _, err := compile(p); err != nil {
			return err
		}
	}
	for i := range p.Statement {
		st := &p.Statement[i]
		path := fmt.Sprintf("Statement[%d]", i)
		switch k {
		case Identity:
			if st.Principal != nil || st.NotPrincipal != nil {
				return errorf(path, "Principal and NotPrincipal are not allowed in an identity policy")
			}
			if st.Resource == nil && st.NotResource == nil {
				return errorf(path, "missing Resource or NotResource: an identity policy must name the resources it applies to")
			}
		case Resource:
			if st.Principal == nil && st.NotPrincipal == nil {
				return errorf(path, "missing Principal or NotPrincipal: a resource policy must name the principals it applies to")
			}
		default:
			return fmt.Errorf("policy: unknown kind %v", k)
		}
	}
	return nil
}

// ValidateIdentity is Validate(Identity).
func (p *Policy) ValidateIdentity() error { return p.Validate(Identity) }

// ValidateResource is Validate(Resource).
func (p *Policy) ValidateResource() error { return p.Validate(Resource) }

// UnmarshalJSON parses a policy document (see Parse), so a Policy can be a
// field of a larger JSON structure.
func (p *Policy) UnmarshalJSON(b []byte) error {
	q, err := Parse(b)
	if err != nil {
		return err
	}
	*p = *q
	return nil
}

// MarshalJSON writes p in a canonical form: elements in a fixed order,
// Statement and every list as arrays, empty optional elements left out.
// Parsing the result gives back an equivalent policy. (A value receiver,
// so a Policy field marshals as a document, not as its Go fields.)
func (p Policy) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"Version":`)
	v := p.Version
	if v == "" {
		v = Version2008
	}
	writeString(&b, v)
	if p.ID != "" {
		b.WriteString(`,"Id":`)
		writeString(&b, p.ID)
	}
	b.WriteString(`,"Statement":[`)
	for i := range p.Statement {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := p.Statement[i].marshal(&b); err != nil {
			return nil, err
		}
	}
	b.WriteString("]}")
	return b.Bytes(), nil
}

func (st *Statement) marshal(b *bytes.Buffer) error {
	b.WriteByte('{')
	if st.Sid != "" {
		b.WriteString(`"Sid":`)
		writeString(b, st.Sid)
		b.WriteByte(',')
	}
	switch st.Effect {
	case Allow, Deny:
	default:
		return fmt.Errorf("policy: cannot marshal statement with effect %v", st.Effect)
	}
	b.WriteString(`"Effect":`)
	writeString(b, st.Effect.String())
	writePrincipals(b, "Principal", st.Principal)
	writePrincipals(b, "NotPrincipal", st.NotPrincipal)
	writeList(b, "Action", st.Action)
	writeList(b, "NotAction", st.NotAction)
	writeList(b, "Resource", st.Resource)
	writeList(b, "NotResource", st.NotResource)
	if len(st.Condition) > 0 {
		b.WriteString(`,"Condition":{`)
		// Group the conditions by operator, operators in order of first
		// appearance, keys in order within each.
		done := make([]bool, len(st.Condition))
		first := true
		for i := range st.Condition {
			if done[i] {
				continue
			}
			op := st.Condition[i].Operator
			if !first {
				b.WriteByte(',')
			}
			first = false
			writeString(b, op)
			b.WriteString(":{")
			for j := i; j < len(st.Condition); j++ {
				c := &st.Condition[j]
				if done[j] || c.Operator != op {
					continue
				}
				done[j] = true
				if j > i {
					b.WriteByte(',')
				}
				writeString(b, c.Key)
				b.WriteByte(':')
				writeArray(b, c.Values)
			}
			b.WriteByte('}')
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return nil
}

func writePrincipals(b *bytes.Buffer, name string, p *Principals) {
	if p == nil {
		return
	}
	b.WriteString(`,"`)
	b.WriteString(name)
	b.WriteString(`":`)
	if p.All {
		b.WriteString(`"*"`)
		return
	}
	b.WriteByte('{')
	n := 0
	for _, kv := range []struct {
		k string
		v []string
	}{{"AWS", p.AWS}, {"Service", p.Service}, {"Federated", p.Federated}, {"CanonicalUser", p.CanonicalUser}} {
		if len(kv.v) == 0 {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		writeString(b, kv.k)
		b.WriteByte(':')
		writeArray(b, kv.v)
	}
	b.WriteByte('}')
}

func writeList(b *bytes.Buffer, name string, v []string) {
	if v == nil {
		return
	}
	b.WriteString(`,"`)
	b.WriteString(name)
	b.WriteString(`":`)
	writeArray(b, v)
}

func writeArray(b *bytes.Buffer, v []string) {
	b.WriteByte('[')
	for i, s := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(b, s)
	}
	b.WriteByte(']')
}

func writeString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // a string always marshals
	b.Write(enc)
}
