package policy

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	for _, tc := range append(authzCases(), conditionCases()...) {
		for _, d := range append(tc.identity, tc.resource...) {
			f.Add([]byte(d))
		}
	}
	f.Add([]byte(`{"Statement":{"Effect":"Allow","Principal":"*","Action":"ecr:*"}}`))
	f.Add([]byte(`{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":["111122223333"]},"NotAction":"ecr:Put*","NotResource":"arn:aws:ecr:*:*:repository/x"}]}`))
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:*:*:repository/${aws:username, 'a''b'}${*}\\x"}]}`))
	f.Add([]byte(`{"a":[1 2]}`))

	req := Request{
		Principal: alice, Action: "ecr:BatchGetImage", Resource: repo,
		Context: Context{"aws:SourceIp": {"10.1.2.3"}, "aws:TagKeys": {"a", "b"}, "aws:CurrentTime": {"2026-01-01T00:00:00Z"}, "wharf:N": {"3"}},
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := Parse(doc)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is %T, not *Error", err, err)
			}
			return
		}
		_ = p.ValidateIdentity()
		_ = p.ValidateResource()
		e1 := p.Evaluate(req)
		_ = Authorize(req, []*Policy{p}, []*Policy{p})
		_ = Authorize(Request{Principal: anon, Action: "ecr:PutImage"}, nil, []*Policy{p})
		// The pull-gate helpers: a deny explained and dropped statement by
		// statement must terminate and agree with the key services.
		if d := Authorize(req, nil, []*Policy{p}); d.DenyPolicy != nil {
			_ = p.StatementConditionsHold(d.DenyStatement, req)
			if p.StatementUsesKeysOf(d.DenyStatement, "wharf") && !p.UsesKeysOf("wharf") {
				t.Fatal("a statement reads wharf: keys the policy does not")
			}
			if rest := p.WithoutStatement(d.DenyStatement); rest.Evaluate(req) == Deny && rest.StatementConditionsHold(d.DenyStatement, req) {
				t.Fatal("the dropped statement still holds")
			}
		}

		b, err := p.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		q, err := Parse(b)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", b, err)
		}
		if !equivalent(p, q) {
			t.Fatalf("round trip changed the policy:\n%s\n%+v\n%+v", b, p, q)
		}
		if e2 := q.Evaluate(req); e1 != e2 {
			t.Fatalf("round trip changed the evaluation: %v vs %v", e1, e2)
		}
		b2, _ := q.MarshalJSON()
		if !bytes.Equal(b, b2) {
			t.Fatalf("marshal not canonical:\n%s\n%s", b, b2)
		}
	})
}

// FuzzGlob checks glob against a regular expression built from the
// pattern.
func FuzzGlob(f *testing.F) {
	f.Add("ecr:Get*", "ecr:GetDownloadUrlForLayer", false)
	f.Add("a*b?c", "axxbyc", false)
	f.Add("*?", "é", false)
	f.Add("x*??", "x€", false)
	f.Add("ECR:*", "ecr:put", true)
	f.Fuzz(func(t *testing.T, p, s string, fold bool) {
		if !utf8.ValidString(p) || !utf8.ValidString(s) || len(p) > 64 || len(s) > 64 {
			return
		}
		var re strings.Builder
		re.WriteString("^(?s")
		if fold {
			re.WriteString("i")
		}
		re.WriteString(")")
		for _, r := range p {
			switch r {
			case '*':
				re.WriteString(".*")
			case '?':
				re.WriteString(".")
			default:
				re.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		re.WriteString("$")
		want := regexp.MustCompile(re.String()).MatchString(s)
		if fold && (!isASCII(p) || !isASCII(s)) {
			return // glob folds ASCII only; actions are ASCII
		}
		if got := glob(p, s, fold, false); got != want {
			t.Fatalf("glob(%q, %q, %v) = %v, want %v", p, s, fold, got, want)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func TestGlobEscapes(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{`a\*`, "a*", true},
		{`a\*`, "ab", false},
		{`a\?*`, "a?xyz", true},
		{`a\\b`, `a\b`, true},
		{`*\*`, "xx*", true},
	} {
		if got := glob(tc.p, tc.s, false, true); got != tc.want {
			t.Errorf("glob(%q, %q, esc) = %v", tc.p, tc.s, got)
		}
	}
	if !glob(`a\b`, `a\b`, false, false) {
		t.Error("backslash must be literal without esc")
	}
}
