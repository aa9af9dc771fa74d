package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Parse parses and validates a policy document. The result is valid for
// both kinds of policy as far as the kind does not matter; check the kind
// with Validate. Errors are *Error values naming what is wrong, e.g.
//
//	Statement[1]: Invalid effect "Alow": must be "Allow" or "Deny"
//	Statement[0]: unknown condition operator "StringEqualz"
//	invalid JSON at line 3, column 14: invalid character '}' looking for beginning of value
//
// Parse never panics, whatever the input.
func Parse(doc []byte) (*Policy, error) {
	root, err := decodeJSON(doc)
	if err != nil {
		return nil, err
	}
	if root.kind != jObject {
		return nil, errorf("", "a policy document must be a JSON object, not %s", root.kind)
	}
	p := &Policy{}
	var stmts *jval
	for i := range root.obj {
		m := &root.obj[i]
		switch m.key {
		case "Version":
			if m.val.kind != jString {
				return nil, errorf("Version", "must be a string, not %s", m.val.kind)
			}
			if m.val.s != Version2012 && m.val.s != Version2008 {
				return nil, errorf("", "invalid Version %q: must be %q or %q", m.val.s, Version2012, Version2008)
			}
			p.Version = m.val.s
		case "Id":
			if m.val.kind != jString {
				return nil, errorf("Id", "must be a string, not %s", m.val.kind)
			}
			p.ID = m.val.s
		case "Statement":
			stmts = &m.val
		default:
			return nil, errorf("", "unknown element %q", m.key)
		}
	}
	if p.Version == "" {
		p.Version = Version2008 // as AWS does when Version is absent
	}
	if stmts == nil {
		return nil, errorf("", "missing Statement")
	}
	switch stmts.kind {
	case jObject:
		st, err := parseStatement(stmts, "Statement[0]")
		if err != nil {
			return nil, err
		}
		p.Statement = []Statement{st}
	case jArray:
		if len(stmts.arr) == 0 {
			return nil, errorf("Statement", "must contain at least one statement")
		}
		p.Statement = make([]Statement, 0, len(stmts.arr))
		for i := range stmts.arr {
			st, err := parseStatement(&stmts.arr[i], fmt.Sprintf("Statement[%d]", i))
			if err != nil {
				return nil, err
			}
			p.Statement = append(p.Statement, st)
		}
	default:
		return nil, errorf("Statement", "must be an object or an array of objects, not %s", stmts.kind)
	}
	prog, err := compile(p)
	if err != nil {
		return nil, err
	}
	p.prog = prog
	return p, nil
}

func parseStatement(v *jval, path string) (Statement, error) {
	var st Statement
	if v.kind != jObject {
		return st, errorf(path, "a statement must be a JSON object, not %s", v.kind)
	}
	var err error
	haveEffect := false
	for i := range v.obj {
		m := &v.obj[i]
		switch m.key {
		case "Sid":
			if m.val.kind != jString {
				return st, errorf(path, "Sid must be a string, not %s", m.val.kind)
			}
			st.Sid = m.val.s
		case "Effect":
			if m.val.kind != jString {
				return st, errorf(path, "Effect must be a string, not %s", m.val.kind)
			}
			switch m.val.s {
			case "Allow":
				st.Effect = Allow
			case "Deny":
				st.Effect = Deny
			default:
				return st, errorf(path, "Invalid effect %q: must be \"Allow\" or \"Deny\"", m.val.s)
			}
			haveEffect = true
		case "Action":
			st.Action, err = stringList(&m.val, path, m.key)
		case "NotAction":
			st.NotAction, err = stringList(&m.val, path, m.key)
		case "Resource":
			st.Resource, err = stringList(&m.val, path, m.key)
		case "NotResource":
			st.NotResource, err = stringList(&m.val, path, m.key)
		case "Principal":
			st.Principal, err = parsePrincipals(&m.val, path, m.key)
		case "NotPrincipal":
			st.NotPrincipal, err = parsePrincipals(&m.val, path, m.key)
		case "Condition":
			st.Condition, err = parseConditions(&m.val, path)
		default:
			return st, errorf(path, "unknown element %q", m.key)
		}
		if err != nil {
			return st, err
		}
	}
	if !haveEffect {
		return st, errorf(path, "missing Effect")
	}
	return st, nil
}

// stringList reads a string or an array of strings; numbers and booleans
// are taken as their JSON text, as AWS does.
func stringList(v *jval, path, name string) ([]string, error) {
	if v.scalar() {
		return []string{v.s}, nil
	}
	if v.kind != jArray {
		return nil, errorf(path, "%s must be a string or an array of strings, not %s", name, v.kind)
	}
	if len(v.arr) == 0 {
		return nil, errorf(path, "%s must not be empty", name)
	}
	out := make([]string, len(v.arr))
	for i := range v.arr {
		if !v.arr[i].scalar() {
			return nil, errorf(path, "%s must be a string or an array of strings, not an array of %s", name, v.arr[i].kind)
		}
		out[i] = v.arr[i].s
	}
	return out, nil
}

func parsePrincipals(v *jval, path, name string) (*Principals, error) {
	switch v.kind {
	case jString:
		if v.s != "*" {
			return nil, errorf(path, "invalid principal %q: a %s string must be \"*\"; name others as {\"AWS\": ...}", v.s, name)
		}
		return &Principals{All: true}, nil
	case jObject:
	default:
		return nil, errorf(path, "%s must be \"*\" or an object, not %s", name, v.kind)
	}
	if len(v.obj) == 0 {
		return nil, errorf(path, "%s must not be empty", name)
	}
	p := &Principals{}
	for i := range v.obj {
		m := &v.obj[i]
		list, err := stringList(&m.val, path, name+"."+m.key)
		if err != nil {
			return nil, err
		}
		switch m.key {
		case "AWS":
			p.AWS = list
		case "Service":
			p.Service = list
		case "Federated":
			p.Federated = list
		case "CanonicalUser":
			p.CanonicalUser = list
		default:
			return nil, errorf(path, "invalid principal type %q in %s: must be AWS, Service, Federated or CanonicalUser", m.key, name)
		}
	}
	return p, nil
}

func parseConditions(v *jval, path string) ([]Condition, error) {
	if v.kind != jObject {
		return nil, errorf(path, "Condition must be an object, not %s", v.kind)
	}
	var out []Condition
	for i := range v.obj {
		op := &v.obj[i]
		if op.val.kind != jObject {
			return nil, errorf(path, "condition operator %q must map to an object of keys, not %s", op.key, op.val.kind)
		}
		if len(op.val.obj) == 0 {
			return nil, errorf(path, "condition operator %q has no keys", op.key)
		}
		for j := range op.val.obj {
			k := &op.val.obj[j]
			vals, err := stringList(&k.val, path, fmt.Sprintf("condition %s %q", op.key, k.key))
			if err != nil {
				return nil, err
			}
			out = append(out, Condition{Operator: op.key, Key: k.key, Values: vals})
		}
	}
	return out, nil
}

// A small JSON tree: objects keep their members in order, and duplicate
// member names are an error (a policy with two "Effect"s is ambiguous).

type jkind uint8

const (
	jString jkind = iota
	jNumber
	jBool
	jNull
	jArray
	jObject
)

func (k jkind) String() string {
	return [...]string{"a string", "a number", "a boolean", "null", "an array", "an object"}[k]
}

type jval struct {
	kind jkind
	s    string // string value, number text, "true"/"false"
	arr  []jval
	obj  []jmember
}

type jmember struct {
	key string
	val jval
}

func (v *jval) scalar() bool {
	return v.kind == jString || v.kind == jNumber || v.kind == jBool
}

// maxDepth bounds nesting; a valid policy nests five deep at most.
const maxDepth = 16

func decodeJSON(doc []byte) (*jval, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, errorf("", "empty policy document")
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	v, err := readValue(dec, 0)
	if err != nil {
		return nil, jsonError(doc, dec, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("unexpected data after the policy document")
		}
		return nil, jsonError(doc, dec, err)
	}
	return &v, nil
}

type depthError struct{}

func (depthError) Error() string { return "nested too deeply" }

type dupError struct {
	key string
	off int64
}

func (e dupError) Error() string { return fmt.Sprintf("duplicate key %q", e.key) }

func readValue(dec *json.Decoder, depth int) (jval, error) {
	if depth > maxDepth {
		return jval{}, depthError{}
	}
	tok, err := dec.Token()
	if err != nil {
		return jval{}, err
	}
	switch t := tok.(type) {
	case string:
		return jval{kind: jString, s: t}, nil
	case json.Number:
		return jval{kind: jNumber, s: t.String()}, nil
	case bool:
		if t {
			return jval{kind: jBool, s: "true"}, nil
		}
		return jval{kind: jBool, s: "false"}, nil
	case nil:
		return jval{kind: jNull}, nil
	case json.Delim:
		switch t {
		case '[':
			v := jval{kind: jArray}
			for dec.More() {
				e, err := readValue(dec, depth+1)
				if err != nil {
					return jval{}, err
				}
				v.arr = append(v.arr, e)
			}
			if _, err := dec.Token(); err != nil {
				return jval{}, err
			}
			return v, nil
		case '{':
			v := jval{kind: jObject}
			for dec.More() {
				keyOff := dec.InputOffset()
				kt, err := dec.Token()
				if err != nil {
					return jval{}, err
				}
				key, _ := kt.(string) // the decoder only yields strings here
				for i := range v.obj {
					if v.obj[i].key == key {
						return jval{}, dupError{key, keyOff}
					}
				}
				e, err := readValue(dec, depth+1)
				if err != nil {
					return jval{}, err
				}
				v.obj = append(v.obj, jmember{key: key, val: e})
			}
			if _, err := dec.Token(); err != nil {
				return jval{}, err
			}
			return v, nil
		}
	}
	return jval{}, fmt.Errorf("unexpected token %v", tok)
}

// jsonError turns a decoding error into an *Error with the position.
func jsonError(doc []byte, dec *json.Decoder, err error) error {
	off := dec.InputOffset()
	what, detail := "invalid JSON", err.Error()
	var syn *json.SyntaxError
	var dup dupError
	switch {
	case errors.As(err, &syn):
		// syn.Offset is relative to what the decoder was scanning, not
		// always to the document; InputOffset is where the bad token
		// starts, give or take blanks.
		off = skipBlanks(doc, off, " \t\r\n")
	case errors.As(err, &dup):
		what = "invalid policy document"
		off = skipBlanks(doc, dup.off, ", \t\r\n")
	case errors.As(err, new(depthError)):
		what = "invalid policy document"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		off, detail = int64(len(doc)), "unexpected end of JSON input"
	}
	off = max(0, min(off, int64(len(doc))))
	line, col := 1, 1
	for _, c := range doc[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return &Error{
		Msg:  fmt.Sprintf("%s at line %d, column %d: %s", what, line, col, detail),
		Line: line, Column: col,
	}
}

func skipBlanks(doc []byte, off int64, blanks string) int64 {
	for off >= 0 && off < int64(len(doc)) && strings.IndexByte(blanks, doc[off]) >= 0 {
		off++
	}
	return off
}
