package policy

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	st := func(s string) string { return `{"Version":"2012-10-17","Statement":[` + s + `]}` }
	ok := `{"Effect":"Allow","Action":"ecr:*","Resource":"*"}`
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"empty", ``, `empty policy document`},
		{"blank", " \n\t", `empty policy document`},
		{"truncated", `{"Statement":`, `invalid JSON at line 1, column 14: unexpected end of JSON input`},
		{"syntax", "{\n  \"Statement\": [}\n}", `invalid JSON at line 2, column 17: invalid character '}' looking for beginning of value`},
		{"trailing garbage", `{"Statement":` + ok + `} x`, `invalid JSON at line 1, column 66: invalid character 'x' looking for beginning of value`},
		{"two documents", `{"Statement":` + ok + `} {}`, `unexpected data after the policy document`},
		{"duplicate key", `{"Statement":[{"Effect":"Allow", "Effect":"Deny","Action":"ecr:*"}]}`, `invalid policy document at line 1, column 34: duplicate key "Effect"`},
		{"deep nesting", `{"Statement":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, `nested too deeply`},
		{"not an object", `["Statement"]`, `a policy document must be a JSON object, not an array`},
		{"bad version", `{"Version":"2012-10-18","Statement":` + ok + `}`, `invalid Version "2012-10-18": must be "2012-10-17" or "2008-10-17"`},
		{"version not string", `{"Version":2012,"Statement":` + ok + `}`, `Version: must be a string, not a number`},
		{"unknown top-level element", `{"Statement":` + ok + `,"Statements":[]}`, `unknown element "Statements"`},
		{"lower-case element", `{"statement":` + ok + `}`, `unknown element "statement"`},
		{"missing statement", `{"Version":"2012-10-17"}`, `missing Statement`},
		{"empty statement array", `{"Statement":[]}`, `Statement: must contain at least one statement`},
		{"statement is string", `{"Statement":"x"}`, `Statement: must be an object or an array of objects, not a string`},
		{"statement element not object", st(ok + `,3`), `Statement[1]: a statement must be a JSON object, not a number`},
		{"invalid effect", st(ok + `,{"Effect":"Alow","Action":"ecr:*","Resource":"*"}`), `Statement[1]: Invalid effect "Alow": must be "Allow" or "Deny"`},
		{"effect case matters", st(`{"Effect":"allow","Action":"ecr:*","Resource":"*"}`), `Statement[0]: Invalid effect "allow"`},
		{"missing effect", st(`{"Action":"ecr:*","Resource":"*"}`), `Statement[0]: missing Effect`},
		{"unknown statement element", st(`{"Effect":"Allow","Action":"ecr:*","Resources":"*"}`), `Statement[0]: unknown element "Resources"`},
		{"action and notaction", st(`{"Effect":"Allow","Action":"ecr:*","NotAction":"ecr:Put*","Resource":"*"}`), `Statement[0]: Action and NotAction are both present`},
		{"no action", st(`{"Effect":"Allow","Resource":"*"}`), `Statement[0]: missing Action or NotAction`},
		{"empty action list", st(`{"Effect":"Allow","Action":[],"Resource":"*"}`), `Statement[0]: Action must not be empty`},
		{"action object", st(`{"Effect":"Allow","Action":{"a":1},"Resource":"*"}`), `Statement[0]: Action must be a string or an array of strings, not an object`},
		{"action null", st(`{"Effect":"Allow","Action":[null],"Resource":"*"}`), `Statement[0]: Action must be a string or an array of strings, not an array of null`},
		{"action without service", st(`{"Effect":"Allow","Action":"ecr","Resource":"*"}`), `Statement[0]: invalid action "ecr": actions must be prefixed by a service`},
		{"action wildcard service", st(`{"Effect":"Allow","Action":"*:Get*","Resource":"*"}`), `Statement[0]: invalid action "*:Get*": bad character '*' in service prefix`},
		{"action empty name", st(`{"Effect":"Allow","Action":"ecr:","Resource":"*"}`), `Statement[0]: invalid action "ecr:": missing action name`},
		{"action space", st(`{"Effect":"Allow","Action":"ecr:Get Image","Resource":"*"}`), `invalid action "ecr:Get Image": bad character ' ' in action name`},
		{"resource and notresource", st(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","NotResource":"*"}`), `Statement[0]: Resource and NotResource are both present`},
		{"bad resource", st(`{"Effect":"Allow","Action":"ecr:*","Resource":"my-repo"}`), `Statement[0]: invalid resource "my-repo": must be "*" or an ARN`},
		{"short resource ARN", st(`{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:us-east-1"}`), `invalid resource "arn:aws:ecr:us-east-1"`},
		{"empty resource list", st(`{"Effect":"Allow","Action":"ecr:*","Resource":[]}`), `Statement[0]: Resource must not be empty`},
		{"principal and notprincipal", st(`{"Effect":"Allow","Principal":"*","NotPrincipal":{"AWS":"111122223333"},"Action":"ecr:*"}`), `Statement[0]: Principal and NotPrincipal are both present`},
		{"principal string not star", st(`{"Effect":"Allow","Principal":"111122223333","Action":"ecr:*"}`), `Statement[0]: invalid principal "111122223333": a Principal string must be "*"`},
		{"principal short account", st(`{"Effect":"Allow","Principal":{"AWS":"12345"},"Action":"ecr:*"}`), `Statement[0]: invalid principal "12345"`},
		{"principal wildcard ARN", st(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"},"Action":"ecr:*"}`), `invalid principal "arn:aws:iam::111122223333:user/*"`},
		{"principal group ARN", st(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:group/devs"},"Action":"ecr:*"}`), `invalid principal "arn:aws:iam::111122223333:group/devs"`},
		{"principal non-iam ARN", st(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:ecr:us-east-1:111122223333:repository/x"},"Action":"ecr:*"}`), `invalid principal "arn:aws:ecr:us-east-1:111122223333:repository/x"`},
		{"principal bad type", st(`{"Effect":"Allow","Principal":{"IAM":"111122223333"},"Action":"ecr:*"}`), `Statement[0]: invalid principal type "IAM" in Principal`},
		{"principal empty object", st(`{"Effect":"Allow","Principal":{},"Action":"ecr:*"}`), `Statement[0]: Principal must not be empty`},
		{"principal empty AWS list", st(`{"Effect":"Allow","Principal":{"AWS":[]},"Action":"ecr:*"}`), `Statement[0]: Principal.AWS must not be empty`},
		{"principal number", st(`{"Effect":"Allow","Principal":5,"Action":"ecr:*"}`), `Statement[0]: Principal must be "*" or an object, not a number`},
		{"notprincipal star", st(`{"Effect":"Deny","NotPrincipal":"*","Action":"ecr:*"}`), `Statement[0]: invalid principal "*": NotPrincipal cannot exclude everyone`},
		{"principal empty service", st(`{"Effect":"Allow","Principal":{"Service":""},"Action":"ecr:*"}`), `Statement[0]: invalid principal ""`},
		{"sid not string", st(`{"Sid":["a"],"Effect":"Allow","Action":"ecr:*","Resource":"*"}`), `Statement[0]: Sid must be a string, not an array`},
		{"duplicate sid", st(`{"Sid":"A","Effect":"Allow","Action":"ecr:*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"ecr:*","Resource":"*"}`), `Statement[1]: duplicate Sid "A" (also Statement[0])`},
		{"unknown operator", st(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"StringEqualz":{"aws:username":"a"}}}`), `Statement[0]: unknown condition operator "StringEqualz"`},
		{"operator case matters", st(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"stringequals":{"aws:username":"a"}}}`), `unknown condition operator "stringequals"`},
		{"NullIfExists", st(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"NullIfExists":{"aws:username":"true"}}}`), `unknown condition operator "NullIfExists"`},
		{"bad set prefix", st(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"ForEachValue:StringEquals":{"aws:TagKeys":"a"}}}`), `unknown condition operator "ForEachValue:StringEquals"`},
		{"set prefix with Null", st(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"ForAnyValue:Null":{"aws:TagKeys":"true"}}}`), `Null cannot take ForAnyValue or ForAllValues`},
		{"condition not object", st(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":["x"]}`), `Statement[0]: Condition must be an object, not an array`},
		{"operator not object", st(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"StringEquals":"x"}}`), `condition operator "StringEquals" must map to an object of keys, not a string`},
		{"operator no keys", st(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"StringEquals":{}}}`), `condition operator "StringEquals" has no keys`},
		{"condition key without prefix", st(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"StringEquals":{"username":"a"}}}`), `invalid condition key "username": keys must be prefixed by a service`},
		{"condition no values", st(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"StringEquals":{"aws:username":[]}}}`), `condition StringEquals "aws:username" must not be empty`},
		{"condition value object", st(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"StringEquals":{"aws:username":{"a":"b"}}}}`), `must be a string or an array of strings, not an object`},
		{"bad number", st(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"NumericLessThan":{"wharf:N":"ten"}}}`), `Statement[0]: condition NumericLessThan "wharf:N": invalid number "ten"`},
		{"hex number", st(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"NumericEquals":{"wharf:N":"0x10"}}}`), `invalid number "0x10"`},
		{"bad date", st(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"next week"}}}`), `condition DateLessThan "aws:CurrentTime": invalid date (want ISO 8601`},
		{"bad bool", st(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"yes"}}}`), `condition Bool "aws:SecureTransport": invalid boolean (want "true" or "false") "yes"`},
		{"bad null", st(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"Null":{"aws:username":"maybe"}}}`), `invalid Null value`},
		{"bad ip", st(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}`), `condition IpAddress "aws:SourceIp": invalid IP address or CIDR block "10.0.0.0/33"`},
		{"bad base64", st(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"BinaryEquals":{"wharf:B":"!!"}}}`), `invalid base64 value "!!"`},
		{"bad arn", st(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":"alice"}}}`), `condition ArnLike "aws:PrincipalArn": invalid ARN`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.doc))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", p)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\n  does not contain %q", err, tc.want)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error is %T, not *Error", err)
			}
		})
	}
}

func TestParseErrorPosition(t *testing.T) {
	_, err := Parse([]byte("{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [ ,]\n}"))
	var pe *Error
	if !errors.As(err, &pe) || pe.Line != 3 || pe.Column != 18 {
		t.Fatalf("got %#v", err)
	}
}

func TestParseAccepts(t *testing.T) {
	for _, d := range []string{
		// single statement object, no Version, no Resource (resource policy)
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}}`,
		// the ECR console's cross-account pull policy
		`{"Version":"2008-10-17","Statement":[{"Sid":"AllowPull","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::444455556666:root","111122223333"]},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"]}]}`,
		// a registry policy
		`{"Version":"2012-10-17","Statement":[{"Sid":"Replication","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":["ecr:CreateRepository","ecr:ReplicateImage"],"Resource":"arn:aws:ecr:us-west-2:111122223333:repository/*"}]}`,
		// service principals, roles, assumed roles, every operator family
		`{"Version":"2012-10-17","Id":"x","Statement":[{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com"],"AWS":["arn:aws:iam::111122223333:role/path/ci","arn:aws:sts::111122223333:assumed-role/ci/session"]},"Action":"ecr:*",
		 "Condition":{"StringEqualsIgnoreCaseIfExists":{"aws:username":"a"},"ForAllValues:StringLike":{"aws:TagKeys":["a*"]},"NumericGreaterThanEqualsIfExists":{"wharf:N":1.5e3},
		 "DateGreaterThan":{"aws:CurrentTime":["2020-01-01","2020-01-01T00:00:00.123+01:00","1577836800","20200101T000000Z"]},"BinaryEquals":{"wharf:B":"AAEC"},
		 "NotIpAddress":{"aws:SourceIp":["::1","fe80::/10","::ffff:10.0.0.0/104"]},"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/x"},"Null":{"aws:RequestTag/env":"True"}}}]}`,
		// condition values that are numbers and booleans
		`{"Statement":[{"Effect":"Deny","Action":["ecr:*"],"Resource":["*"],"Condition":{"StringEquals":{"wharf:N":[1,true,"x"]}}}]}`,
	} {
		if _, err := Parse([]byte(d)); err != nil {
			t.Errorf("Parse(%s): %v", d, err)
		}
	}
}

func TestParseKeepsValues(t *testing.T) {
	p, err := Parse([]byte(`{"Statement":{"Sid":"S","Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"NotAction":"ecr:Put*","NotResource":"arn:aws:ecr:*:*:repository/x",
		"Condition":{"StringEquals":{"wharf:N":[1,true]},"Bool":{"aws:SecureTransport":false}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != Version2008 {
		t.Errorf("Version = %q, want the 2008 default", p.Version)
	}
	want := Statement{
		Sid: "S", Effect: Deny,
		NotPrincipal: &Principals{AWS: []string{"111122223333"}},
		NotAction:    []string{"ecr:Put*"},
		NotResource:  []string{"arn:aws:ecr:*:*:repository/x"},
		Condition: []Condition{
			{Operator: "StringEquals", Key: "wharf:N", Values: []string{"1", "true"}},
			{Operator: "Bool", Key: "aws:SecureTransport", Values: []string{"false"}},
		},
	}
	if !reflect.DeepEqual(p.Statement[0], want) {
		t.Fatalf("got  %+v\nwant %+v", p.Statement[0], want)
	}
}

func TestValidateKind(t *testing.T) {
	identity := doc(`{"Effect":"Allow","Action":"ecr:*","Resource":"*"}`)
	resource := doc(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"ecr:*"}`)
	notPrinc := doc(`{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"ecr:*"}`)
	noRes := doc(`{"Effect":"Allow","Action":"ecr:*"}`)
	for _, tc := range []struct {
		doc  string
		kind Kind
		want string // "" = valid
	}{
		{identity, Identity, ""},
		{identity, Resource, "Statement[0]: missing Principal or NotPrincipal: a resource policy must name the principals it applies to"},
		{resource, Resource, ""},
		{notPrinc, Resource, ""},
		{resource, Identity, "Statement[0]: Principal and NotPrincipal are not allowed in an identity policy"},
		{notPrinc, Identity, "Statement[0]: Principal and NotPrincipal are not allowed in an identity policy"},
		{noRes, Identity, "Statement[0]: missing Resource or NotResource: an identity policy must name the resources it applies to"},
	} {
		p, err := Parse([]byte(tc.doc))
		if err != nil {
			t.Fatal(err)
		}
		err = p.Validate(tc.kind)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s as %v: %v", tc.doc, tc.kind, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want):
			t.Errorf("%s as %v: got %v, want %q", tc.doc, tc.kind, err, tc.want)
		}
		var helper error
		if tc.kind == Identity {
			helper = p.ValidateIdentity()
		} else {
			helper = p.ValidateResource()
		}
		if (helper == nil) != (err == nil) {
			t.Errorf("helper disagrees with Validate: %v vs %v", helper, err)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	in := `{"Id":"pol","Statement":[{"Sid":"A","Effect":"Allow","Principal":"*","Action":"ecr:Get*","Condition":{"StringLike":{"aws:TagKeys":["a*",3]},"Bool":{"aws:SecureTransport":true},"StringEquals":{"wharf:X":"<&>"}}},
		{"Effect":"Deny","NotPrincipal":{"AWS":["111122223333"],"Service":"x.amazonaws.com"},"NotAction":["ecr:Put*"],"NotResource":"arn:aws:ecr:*:*:repository/\u00e9*"}]}`
	p, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"Version":"2008-10-17","Id":"pol","Statement":[{"Sid":"A","Effect":"Allow","Principal":"*","Action":["ecr:Get*"],"Condition":{"StringLike":{"aws:TagKeys":["a*","3"]},"Bool":{"aws:SecureTransport":["true"]},"StringEquals":{"wharf:X":["\u003c\u0026\u003e"]}}},` +
		`{"Effect":"Deny","NotPrincipal":{"AWS":["111122223333"],"Service":["x.amazonaws.com"]},"NotAction":["ecr:Put*"],"NotResource":["arn:aws:ecr:*:*:repository/é*"]}]}`
	if string(b) != want {
		t.Fatalf("MarshalJSON:\n got %s\nwant %s", b, want)
	}
	q, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !equivalent(p, q) {
		t.Fatalf("round trip changed the policy:\n%+v\n%+v", p, q)
	}

	// UnmarshalJSON parses.
	var holder struct{ Policy *Policy }
	if err := json.Unmarshal([]byte(`{"Policy":`+in+`}`), &holder); err != nil || !equivalent(holder.Policy, p) {
		t.Fatalf("UnmarshalJSON: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"Policy":{"Statement":[]}}`), &holder); err == nil {
		t.Fatal("UnmarshalJSON accepted an invalid policy")
	}
}

// equivalent compares the exported content of two policies.
func equivalent(a, b *Policy) bool {
	if a.Version != b.Version || a.ID != b.ID || len(a.Statement) != len(b.Statement) {
		return false
	}
	return reflect.DeepEqual(a.Statement, b.Statement)
}
