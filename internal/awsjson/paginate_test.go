package awsjson

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

type pageState struct {
	Repo  string `json:"r"`
	After string `json:"a"`
}

func TestPaginatorRoundTrip(t *testing.T) {
	p := Paginator{Key: []byte("0123456789abcdef0123456789abcdef")}
	tok := p.Encode(pageState{Repo: "team/app", After: "sha256:ab"})
	if strings.ContainsAny(tok, "+/=") {
		t.Errorf("token %q is not unpadded base64url", tok)
	}
	var st pageState
	if err := p.Decode(tok, &st); err != nil || st.Repo != "team/app" || st.After != "sha256:ab" {
		t.Fatalf("Decode = %+v, %v", st, err)
	}
}

func TestPaginatorTamper(t *testing.T) {
	p := Paginator{Key: []byte("k1")}
	tok := p.Encode(pageState{Repo: "a", After: "b"})
	raw, _ := base64.RawURLEncoding.DecodeString(tok)

	// Change the payload but keep the MAC: {"r":"a" -> {"r":"z".
	forged := append([]byte(nil), raw...)
	forged[strings.Index(string(forged), `"a"`)+1] = 'z'
	// A payload with a MAC made with another key.
	other := Paginator{Key: []byte("k2")}.Encode(pageState{Repo: "a", After: "b"})
	// A valid MAC over something that is not the state's JSON.
	notState := Paginator{Key: []byte("k1")}.Encode("just a string")

	for name, bad := range map[string]string{
		"payload changed": base64.RawURLEncoding.EncodeToString(forged),
		"bit flipped":     flipLast(tok),
		"other key":       other,
		"truncated":       tok[:len(tok)-4],
		"garbage":         "not a token!",
		"empty":           "",
		"padding":         tok + "==",
		"std alphabet":    base64.StdEncoding.EncodeToString(raw),
		"too short":       base64.RawURLEncoding.EncodeToString([]byte("short")),
		"wrong shape":     notState,
		"huge":            strings.Repeat("A", 100<<10),
	} {
		var st pageState
		err := p.Decode(bad, &st)
		if name == "std alphabet" && !strings.ContainsAny(bad, "+/=") {
			continue // identical to the url alphabet for this token
		}
		if !errors.Is(err, ErrInvalidNextToken) {
			t.Errorf("%s: Decode = %v; want ErrInvalidNextToken", name, err)
		}
		ae, ok := AsAPIError(err)
		if ok && (ae.ErrorCode() != "InvalidParameterException" || ae.(*Error).Message != "Invalid NextToken") {
			t.Errorf("%s: error %v", name, err)
		}
	}
	if err := (Paginator{}).Decode(tok, new(pageState)); err == nil {
		t.Error("empty key accepted a token")
	}
}

func flipLast(tok string) string {
	b := []byte(tok)
	if b[len(b)-1] == 'A' {
		b[len(b)-1] = 'B'
	} else {
		b[len(b)-1] = 'A'
	}
	return string(b)
}
