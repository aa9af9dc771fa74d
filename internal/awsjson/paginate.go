package awsjson

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
)

// Paginator makes opaque, tamper-proof pagination tokens (nextToken). A
// token is base64url(JSON(state) || HMAC-SHA256(Key, JSON(state))), so a
// client can neither read meaningful structure into it by accident nor
// forge or alter one.
//
// The MAC only proves the server made the token. Put whatever the token must
// be bound to (operation, repository, filter) in the state and compare it on
// Decode, so a token from one listing cannot continue another.
type Paginator struct {
	// Key is the HMAC key; it must be non-empty and secret, and stable across
	// servers and restarts for tokens to outlive them.
	Key []byte
}

// ErrInvalidNextToken is the error of a token the server did not make.
var ErrInvalidNextToken = &Error{Code: "InvalidParameterException", Message: "Invalid NextToken"}

// Encode returns a token for state, which must be JSON-encodable; Encode
// panics if it is not, or if Key is empty (both are programming errors).
func (p Paginator) Encode(state any) string {
	if len(p.Key) == 0 {
		panic("awsjson: Paginator with empty Key")
	}
	payload, err := json.Marshal(state)
	if err != nil {
		panic("awsjson: Paginator.Encode: " + err.Error())
	}
	mac := hmac.New(sha256.New, p.Key)
	mac.Write(payload)
	return base64.RawURLEncoding.EncodeToString(mac.Sum(payload))
}

// Decode verifies token and decodes its state into state (a pointer). Any
// token Encode did not produce with this Key yields ErrInvalidNextToken.
func (p Paginator) Decode(token string, state any) error {
	if len(p.Key) == 0 || len(token) > 64<<10 {
		return ErrInvalidNextToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < sha256.Size {
		return ErrInvalidNextToken
	}
	payload, sum := raw[:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
	mac := hmac.New(sha256.New, p.Key)
	mac.Write(payload)
	if !hmac.Equal(sum, mac.Sum(nil)) {
		return ErrInvalidNextToken
	}
	if err := json.Unmarshal(payload, state); err != nil {
		return ErrInvalidNextToken
	}
	return nil
}
