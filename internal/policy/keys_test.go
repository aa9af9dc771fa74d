package policy

import "testing"

func mustParse(t *testing.T, s string) *Policy {
	t.Helper()
	p, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUsesKeysOf(t *testing.T) {
	cases := []struct {
		doc  string
		svc  string
		want bool
	}{
		{doc(`{"Effect":"Allow","Action":"ecr:*","Resource":"*"}`), "wharf", false},
		{doc(`{"Effect":"Deny","Action":"ecr:BatchGetImage","Resource":"*","Condition":{"StringEquals":{"wharf:ImageMaxSeverity":["HIGH","CRITICAL"]}}}`), "wharf", true},
		{doc(`{"Effect":"Deny","Action":"ecr:BatchGetImage","Resource":"*","Condition":{"StringEquals":{"WHARF:ImageMaxSeverity":"HIGH"}}}`), "wharf", true},
		{doc(`{"Effect":"Deny","Action":"ecr:BatchGetImage","Resource":"*","Condition":{"StringEquals":{"aws:username":"x"}}}`), "wharf", false},
		// A variable naming a wharf key in a condition value or a resource.
		{doc(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"StringEquals":{"aws:username":"${wharf:ScanStatus}"}}}`), "wharf", true},
		{doc(`{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:*:*:repository/${wharf:ScanStatus}/*"}`), "wharf", true},
		// 2008-10-17 has no variables: the text is literal.
		{`{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"StringEquals":{"aws:username":"${wharf:ScanStatus}"}}}]}`, "wharf", false},
		{doc(`{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}`), "AWS", true},
	}
	for i, c := range cases {
		if got := mustParse(t, c.doc).UsesKeysOf(c.svc); got != c.want {
			t.Errorf("case %d: UsesKeysOf(%q) = %v, want %v", i, c.svc, got, c.want)
		}
	}
}

func TestDenyStatementExplain(t *testing.T) {
	gate := mustParse(t, doc(
		`{"Sid":"Pull","Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}`,
		`{"Sid":"Gate","Effect":"Deny","Principal":"*","Action":"ecr:BatchGetImage",`+
			`"Condition":{"StringEquals":{"wharf:ImageMaxSeverity":["HIGH","CRITICAL"]},"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/bob"}}}`))
	req := Request{Principal: alice, Action: "ecr:BatchGetImage", Resource: repo,
		Context: Context{"wharf:ImageMaxSeverity": {"CRITICAL"}}}
	d := Authorize(req, nil, []*Policy{gate})
	if d.Allowed || d.DenyPolicy != gate || d.DenyStatement != 1 || d.MatchedSid != "Gate" {
		t.Fatalf("decision %+v", d)
	}
	if !gate.StatementUsesKeysOf(d.DenyStatement, "wharf") || gate.StatementUsesKeysOf(0, "wharf") {
		t.Error("StatementUsesKeysOf")
	}
	// Per-finding variants of the context: which would the statement deny?
	for sev, want := range map[string]bool{"CRITICAL": true, "HIGH": true, "MEDIUM": false} {
		v := req
		v.Context = Context{"wharf:ImageMaxSeverity": {sev}}
		if got := gate.StatementConditionsHold(d.DenyStatement, v); got != want {
			t.Errorf("%s: conditions hold = %v", sev, got)
		}
	}
	// The exempt principal is not denied, so not an unconditional hold.
	v := req
	v.Principal = bob
	if gate.StatementConditionsHold(d.DenyStatement, v) {
		t.Error("conditions hold for the exempt principal")
	}
	if d := Authorize(v, nil, []*Policy{gate}); !d.Allowed {
		t.Errorf("exempt principal: %+v", d)
	}
	// Without the gate statement the request is allowed; the remaining
	// statements keep their names.
	rest := gate.WithoutStatement(d.DenyStatement)
	if d2 := Authorize(req, nil, []*Policy{rest}); !d2.Allowed || d2.MatchedSid != "Pull" {
		t.Errorf("without the gate: %+v", d2)
	}
	if rest.StatementConditionsHold(1, req) || rest.WithoutStatement(1) != rest {
		t.Error("removed statement still reachable")
	}
	if gate.WithoutStatement(7) != gate {
		t.Error("out of range index changed the policy")
	}
	// The original is untouched.
	if d3 := Authorize(req, nil, []*Policy{gate}); d3.Allowed {
		t.Error("WithoutStatement changed the original")
	}
}

func TestNotPrincipalExemption(t *testing.T) {
	// NotPrincipal with Deny: everyone but the named user is denied.
	gate := mustParse(t, doc(
		`{"Sid":"Gate","Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"ecr:BatchGetImage",`+
			`"Condition":{"StringEquals":{"wharf:ScanStatus":["NONE","FAILED"]}}}`))
	allow := []*Policy{mustParse(t, allowAll)}
	ctx := Context{"wharf:ScanStatus": {"NONE"}}
	if d := Authorize(Request{Principal: alice, Action: "ecr:BatchGetImage", Resource: repo, Context: ctx}, allow, []*Policy{gate}); d.Allowed {
		t.Error("alice pulled an unscanned image")
	}
	if d := Authorize(Request{Principal: bob, Action: "ecr:BatchGetImage", Resource: repo, Context: ctx}, allow, []*Policy{gate}); !d.Allowed {
		t.Errorf("bob (exempt) denied: %s", d.Reason)
	}
	ctx = Context{"wharf:ScanStatus": {"COMPLETE"}}
	if d := Authorize(Request{Principal: alice, Action: "ecr:BatchGetImage", Resource: repo, Context: ctx}, allow, []*Policy{gate}); !d.Allowed {
		t.Errorf("alice denied a scanned image: %s", d.Reason)
	}
}
