package token

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/access"
)

var (
	key1 = []byte("0123456789abcdef0123456789abcdef")
	key2 = []byte("fedcba9876543210fedcba9876543210")
	t0   = time.Date(2026, 11, 23, 12, 34, 56, 0, time.UTC)
)

func clock(t time.Time) func() time.Time { return func() time.Time { return t } }

var alice = Claims{AccountID: "123456789012", UserName: "alice", AccessKeyID: "AKIAEXAMPLE"}

func issue(t testing.TB, i *Issuer, c Claims, ttl time.Duration) string {
	t.Helper()
	tok, _, err := i.Issue(c, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestRoundTrip(t *testing.T) {
	i := &Issuer{Key: key1, Now: clock(t0.Add(300 * time.Millisecond))}
	for _, c := range []Claims{
		alice,
		{AccountID: "123456789012"},
		{AccountID: "1", UserName: strings.Repeat("ü", 127), AccessKeyID: strings.Repeat("A", 255)},
	} {
		tok, exp, err := i.Issue(c, DefaultTTL)
		if err != nil {
			t.Fatal(err)
		}
		if !exp.Equal(t0.Add(DefaultTTL)) {
			t.Fatalf("expires %v", exp)
		}
		if !strings.HasPrefix(tok, "v1."+DeriveKeyID(key1)+".") || strings.ContainsAny(tok, "+/=") {
			t.Fatalf("token %q", tok)
		}
		got, err := i.Verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		want := c
		want.IssuedAt, want.ExpiresAt, want.KeyID = t0, t0.Add(DefaultTTL), DeriveKeyID(key1)
		if !got.IssuedAt.Equal(want.IssuedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
			t.Fatalf("times %+v", got)
		}
		got.IssuedAt, got.ExpiresAt = want.IssuedAt, want.ExpiresAt
		if got != want {
			t.Fatalf("claims %+v, want %+v", got, want)
		}
	}
	tok := issue(t, i, alice, time.Hour)
	t.Logf("token (%d bytes): %s", len(tok), tok)
	c, _ := i.Verify(tok)
	if c.ARN() != "arn:aws:iam::123456789012:user/alice" ||
		c.Principal() != (access.Principal{AccountID: "123456789012", UserName: "alice", AccessKeyID: "AKIAEXAMPLE"}) {
		t.Fatalf("%s %+v", c.ARN(), c.Principal())
	}
}

func TestIssueErrors(t *testing.T) {
	i := &Issuer{Key: key1, Now: clock(t0)}
	for name, f := range map[string]func() error{
		"short key":  func() error { _, _, err := (&Issuer{Key: key1[:15]}).Issue(alice, time.Hour); return err },
		"bad key id": func() error { _, _, err := (&Issuer{Key: key1, KeyID: "a.b"}).Issue(alice, time.Hour); return err },
		"zero ttl":   func() error { _, _, err := i.Issue(alice, 0); return err },
		"sub-second": func() error { _, _, err := i.Issue(alice, time.Millisecond); return err },
		"no account": func() error { _, _, err := i.Issue(Claims{UserName: "x"}, time.Hour); return err },
		"long user": func() error {
			_, _, err := i.Issue(Claims{AccountID: "1", UserName: strings.Repeat("x", 256)}, time.Hour)
			return err
		},
		"before 1970": func() error {
			_, _, err := (&Issuer{Key: key1, Now: clock(time.Unix(-5, 0))}).Issue(alice, time.Hour)
			return err
		},
	} {
		if f() == nil {
			t.Errorf("%s: Issue succeeded", name)
		}
	}
	if _, _, err := (&Issuer{}).Issue(alice, time.Hour); !errors.Is(err, ErrNoKey) {
		t.Errorf("no key: %v", err)
	}
}

func TestExpiry(t *testing.T) {
	tok := issue(t, &Issuer{Key: key1, Now: clock(t0)}, alice, time.Hour)
	for _, tc := range []struct {
		at   time.Time
		want error
	}{
		{t0, nil},
		{t0.Add(-5 * time.Minute), nil}, // another node's clock behind
		{t0.Add(-5*time.Minute - time.Second), ErrNotYetValid},
		{t0.Add(time.Hour - time.Nanosecond), nil},
		{t0.Add(time.Hour), ErrExpired},
		{t0.Add(1000 * time.Hour), ErrExpired},
	} {
		c, err := (&Issuer{Key: key1, Now: clock(tc.at)}).Verify(tok)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("at %v: %v, want %v", tc.at, err, tc.want)
		}
		if errors.Is(err, ErrExpired) && c.AccountID != alice.AccountID {
			t.Errorf("expired token's claims not returned: %+v", c)
		}
	}
}

func TestTamper(t *testing.T) {
	i := &Issuer{Key: key1, Now: clock(t0)}
	tok := issue(t, i, alice, time.Hour)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
	for pos := 0; pos < len(tok); pos++ {
		for _, c := range []byte{alphabet[(strings.IndexByte(alphabet, tok[pos])+1)%len(alphabet)], 'A', '.', '=', 0xff} {
			if c == tok[pos] {
				continue
			}
			bad := tok[:pos] + string(c) + tok[pos+1:]
			if _, err := i.Verify(bad); err == nil || !errors.Is(err, access.ErrBadCredentials) {
				t.Fatalf("tampered token %q (byte %d): %v", bad, pos, err)
			}
		}
	}
	for n := 0; n < len(tok); n++ {
		if _, err := i.Verify(tok[:n]); err == nil {
			t.Fatalf("truncated token %q verified", tok[:n])
		}
	}
	for _, bad := range []string{tok + "A", tok + ".", " " + tok, tok + "\n", strings.ToUpper(tok), "v2" + tok[2:]} {
		if _, err := i.Verify(bad); err == nil {
			t.Fatalf("token %q verified", bad)
		}
	}

	// The MAC covers the key id: a token moved under another id fails.
	parts := strings.Split(tok, ".")
	other := &Issuer{Key: key1, KeyID: "other", Now: clock(t0)}
	if _, err := other.Verify("v1.other." + parts[2] + "." + parts[3]); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("re-labelled token: %v", err)
	}
	// Same key id, another secret.
	if _, err := (&Issuer{Key: key2, KeyID: DeriveKeyID(key1), Now: clock(t0)}).Verify(tok); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("other secret: %v", err)
	}
	// Another key altogether.
	if _, err := (&Issuer{Key: key2, Now: clock(t0)}).Verify(tok); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("other key: %v", err)
	}
}

func TestGarbage(t *testing.T) {
	i := &Issuer{Key: key1, Now: clock(t0)}
	kid := DeriveKeyID(key1)
	mac := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	for _, g := range []string{
		"", "v1", "v1.", "v1..", "v1...", "v1." + kid, "v1." + kid + ".", "v1." + kid + ".." + mac,
		"v1." + kid + ".AA." + mac + ".x", "v1." + kid + ".AA." + mac[:42], "v1." + kid + ".AA." + mac + "A",
		"v1." + kid + ".AA." + mac[:42] + "B", // non-canonical final character
		"v1." + kid + ".!!." + mac, strings.Repeat("v1.", 1000), "AWS:" + mac,
		"v1." + kid + "." + strings.Repeat("A", MaxTokenLen) + "." + mac,
	} {
		_, err := i.Verify(g)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Verify(%q) = %v, want *Error", g, err)
		}
	}

	// Payloads with a valid MAC that do not parse.
	forge := func(p []byte) string {
		s := "v1." + kid + "." + base64.RawURLEncoding.EncodeToString(p)
		return s + "." + base64.RawURLEncoding.EncodeToString(sign(key1, s))
	}
	good := binary.AppendUvarint(nil, uint64(t0.Unix()))
	good = binary.AppendUvarint(good, 3600)
	good = append(good, 1, '1', 0, 0)
	if _, err := i.Verify(forge(good)); err != nil {
		t.Fatalf("forged good payload: %v", err)
	}
	for name, p := range map[string][]byte{
		"empty":      nil,
		"trailing":   append(append([]byte(nil), good...), 0),
		"truncated":  good[:len(good)-1],
		"long field": append(append([]byte(nil), good[:len(good)-4]...), 200, '1'),
		"no account": append(append([]byte(nil), good[:len(good)-4]...), 0, 0, 0),
		"huge time":  append(binary.AppendUvarint(nil, 1<<50), good[5:]...),
		"bad varint": {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	} {
		if _, err := i.Verify(forge(p)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s payload: %v", name, err)
		}
	}
}

func TestRotation(t *testing.T) {
	old := &Issuer{Key: key1, KeyID: "k1", Now: clock(t0)}
	cur := &Issuer{Key: key2, KeyID: "k2", Previous: []Key{{ID: "k1", Secret: key1}}, Now: clock(t0)}
	done := &Issuer{Key: key2, KeyID: "k2", Now: clock(t0)}

	oldTok, newTok := issue(t, old, alice, time.Hour), issue(t, cur, alice, time.Hour)
	if !strings.HasPrefix(oldTok, "v1.k1.") || !strings.HasPrefix(newTok, "v1.k2.") {
		t.Fatal(oldTok, newTok)
	}
	if c, err := cur.Verify(oldTok); err != nil || c.KeyID != "k1" {
		t.Fatalf("old token after rotation: %v %+v", err, c)
	}
	if c, err := cur.Verify(newTok); err != nil || c.KeyID != "k2" {
		t.Fatalf("new token: %v %+v", err, c)
	}
	if _, err := old.Verify(newTok); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old node, new token: %v", err)
	}
	if _, err := done.Verify(oldTok); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("retired key: %v", err)
	}
	// A previous key too short to be safe is ignored.
	weak := &Issuer{Key: key2, KeyID: "k2", Previous: []Key{{ID: "k1", Secret: key1[:8]}}, Now: clock(t0)}
	if _, err := weak.Verify(oldTok); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("weak key: %v", err)
	}
	// Nodes sharing a key without ids agree on the derived one.
	a, b := &Issuer{Key: key1, Now: clock(t0)}, &Issuer{Key: append([]byte(nil), key1...), Now: clock(t0)}
	if _, err := b.Verify(issue(t, a, alice, time.Hour)); err != nil {
		t.Fatal(err)
	}
}

func TestBasicAWS(t *testing.T) {
	i := &Issuer{Key: key1, Now: clock(t0)}
	tok := issue(t, i, alice, time.Hour)
	at := EncodeAuthorizationToken(tok)
	if want := base64.StdEncoding.EncodeToString([]byte("AWS:" + tok)); at != want {
		t.Fatalf("authorizationToken %q", at)
	}
	got, err := DecodeAuthorizationToken(at)
	if err != nil || got != tok {
		t.Fatalf("decode: %q %v", got, err)
	}
	for _, bad := range []string{"", "!!", base64.StdEncoding.EncodeToString([]byte("AKID:secret")), base64.StdEncoding.EncodeToString([]byte("AWS:"))} {
		if _, err := DecodeAuthorizationToken(bad); err == nil {
			t.Errorf("DecodeAuthorizationToken(%q) succeeded", bad)
		}
	}

	// docker login -u AWS -p <token>: Basic credentials.
	r := httptest.NewRequest("GET", "/v2/", nil)
	user, pass, _ := strings.Cut(string(must(base64.StdEncoding.DecodeString(at))), ":")
	r.SetBasicAuth(user, pass)
	p, err := i.Authenticate(r)
	if err != nil || p != alice.Principal() {
		t.Fatalf("Authenticate: %+v %v", p, err)
	}
	if tk, ok := ParseBasicAWS(user, pass); !ok || tk != tok {
		t.Fatal("ParseBasicAWS")
	}
	for _, c := range [][2]string{{"AKIAEXAMPLE", "secret"}, {"aws", tok}, {"AWS", ""}} {
		if _, ok := ParseBasicAWS(c[0], c[1]); ok {
			t.Errorf("ParseBasicAWS(%q, %q) ok", c[0], c[1])
		}
		r := httptest.NewRequest("GET", "/v2/", nil)
		r.SetBasicAuth(c[0], c[1])
		if _, err := i.Authenticate(r); !errors.Is(err, access.ErrNoCredentials) {
			t.Errorf("Authenticate(%q): %v", c[0], err)
		}
	}
	if _, err := i.Authenticate(httptest.NewRequest("GET", "/v2/", nil)); !errors.Is(err, access.ErrNoCredentials) {
		t.Errorf("no credentials: %v", err)
	}
	last := "A"
	if tok[len(tok)-1] == 'A' {
		last = "E"
	}
	r.SetBasicAuth("AWS", tok[:len(tok)-1]+last)
	if _, err := i.Authenticate(r); !errors.Is(err, access.ErrBadCredentials) {
		t.Errorf("bad token: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func FuzzVerify(f *testing.F) {
	i := &Issuer{Key: key2, KeyID: "k2", Previous: []Key{{ID: "k1", Secret: key1}}, Now: clock(t0)}
	valid := map[string]bool{}
	for _, is := range []*Issuer{i, {Key: key1, KeyID: "k1", Now: clock(t0)}} {
		tok := issue(f, is, alice, time.Hour)
		valid[tok] = true
		f.Add(tok)
	}
	f.Add("")
	f.Add("v1.k2..")
	f.Add("v1.k2.AAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := i.Verify(tok)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// Only tokens issued verify: the format has no malleability.
		if !valid[tok] || c.AccountID != alice.AccountID {
			t.Fatalf("token %q verified as %+v", tok, c)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	for _, bc := range []struct {
		name string
		i    *Issuer
	}{
		{"key-id", &Issuer{Key: key1, KeyID: "k1", Now: clock(t0)}},
		{"derived-key-id", &Issuer{Key: key1, Now: clock(t0)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tok := issue(b, bc.i, alice, time.Hour)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.i.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkIssue(b *testing.B) {
	i := &Issuer{Key: key1, KeyID: "k1", Now: clock(t0)}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := i.Issue(alice, DefaultTTL); err != nil {
			b.Fatal(err)
		}
	}
}
