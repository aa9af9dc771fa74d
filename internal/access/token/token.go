// Package token issues and verifies registry authorization tokens, the
// password of "docker login -u AWS" that GetAuthorizationToken hands out.
//
// A token is self-contained and MACed with HMAC-SHA256 under a key shared
// by every node, so any node verifies it without a database round trip.
// The format is compact, URL-safe and versioned:
//
//	v1.<key id>.<base64url payload>.<base64url HMAC-SHA256>
//
// The MAC covers everything before the last dot. The key id names the
// key, so keys rotate: a node signs with Issuer.Key and verifies with it
// and with Issuer.Previous. The payload is binary: issued-at (unix seconds,
// uvarint), lifetime in seconds (uvarint), then account id, user name and
// access key id, each a length byte and that many bytes.
//
// Tokens cannot be revoked one by one; rotating the key revokes them all.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/wharfhq/wharf/internal/access"
)

// Limits and defaults.
const (
	// DefaultTTL is ECR's token lifetime.
	DefaultTTL = 12 * time.Hour
	// MinKeyLen is the shortest key accepted (bytes); use 32 random bytes.
	MinKeyLen = 16
	// MaxTokenLen bounds the work Verify does on untrusted input.
	MaxTokenLen = 2048
	// maxField is the longest account id, user name or access key id.
	maxField = 255
	// futureLeeway is how far in the future an issue time may be, for
	// nodes whose clocks differ.
	futureLeeway = 5 * time.Minute
)

const (
	prefix   = "v1."
	macLabel = "wharf/registry-token/v1\x00" // MAC domain separation
	macLen   = sha256.Size
)

var b64 = base64.RawURLEncoding.Strict()

// Error is a token that does not verify. Every *Error is also
// access.ErrBadCredentials.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return "token: " + e.Message }

// Is matches errors of the same Code, and access.ErrBadCredentials.
func (e *Error) Is(target error) bool {
	if t, ok := target.(*Error); ok {
		return t.Code == e.Code
	}
	return target == access.ErrBadCredentials
}

// Verification failures; test with errors.Is.
var (
	ErrMalformed    = &Error{"MalformedToken", "malformed token"}
	ErrUnknownKey   = &Error{"UnknownTokenKey", "token signed with an unknown key"}
	ErrBadSignature = &Error{"InvalidTokenSignature", "token signature does not match"}
	ErrExpired      = &Error{"ExpiredToken", "token has expired"}
	ErrNotYetValid  = &Error{"TokenNotYetValid", "token issued in the future"}
)

// ErrNoKey is returned when the issuer has no usable key (configuration).
var ErrNoKey = errors.New("token: issuer key missing or shorter than 16 bytes")

// Key is a verification key and its id.
type Key struct {
	ID     string
	Secret []byte
}

// Issuer issues and verifies tokens. Its fields must not change while it
// is in use; it is safe for concurrent use.
type Issuer struct {
	// Key signs new tokens (and verifies them).
	Key []byte
	// KeyID names Key in tokens: 1 to 32 of A-Z a-z 0-9 - _. When empty
	// it is derived from Key, so nodes sharing a key agree on it (at the
	// cost of one more HMAC per call).
	KeyID string
	// Previous are keys that still verify tokens but sign none: keep a
	// rotated-out key here for one token lifetime.
	Previous []Key
	Now      func() time.Time // time.Now when nil
}

// Claims are what a token says about its holder.
type Claims struct {
	AccountID   string
	UserName    string // "" for the account's root identity
	AccessKeyID string // the access key GetAuthorizationToken was called with
	IssuedAt    time.Time
	ExpiresAt   time.Time
	KeyID       string // id of the key that signed the token (set by Issue and Verify)
}

// ARN returns the IAM ARN of the holder.
func (c Claims) ARN() string { return c.Principal().String() }

// Principal returns the holder as an access.Principal.
func (c Claims) Principal() access.Principal {
	return access.Principal{AccountID: c.AccountID, UserName: c.UserName, AccessKeyID: c.AccessKeyID}
}

func (i *Issuer) now() time.Time {
	if i.Now != nil {
		return i.Now()
	}
	return time.Now()
}

// DeriveKeyID returns the key id used for key when none is configured: a
// MAC of a fixed label, so it identifies the key without revealing it.
func DeriveKeyID(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("wharf/registry-token/key-id"))
	return b64.EncodeToString(m.Sum(nil)[:9])
}

func (i *Issuer) keyID() string {
	if i.KeyID != "" {
		return i.KeyID
	}
	return DeriveKeyID(i.Key)
}

func validKeyID(id string) bool {
	if len(id) == 0 || len(id) > 32 {
		return false
	}
	for j := 0; j < len(id); j++ {
		c := id[j]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Issue makes a token for c that expires ttl from now (at least a second;
// times are kept to the second). c.IssuedAt, c.ExpiresAt and c.KeyID are
// ignored.
func (i *Issuer) Issue(c Claims, ttl time.Duration) (token string, expiresAt time.Time, err error) {
	if len(i.Key) < MinKeyLen {
		return "", time.Time{}, ErrNoKey
	}
	kid := i.keyID()
	if !validKeyID(kid) {
		return "", time.Time{}, errors.New("token: invalid key id " + kid)
	}
	if ttl < time.Second {
		return "", time.Time{}, errors.New("token: ttl must be at least a second")
	}
	if c.AccountID == "" {
		return "", time.Time{}, errors.New("token: claims need an account id")
	}
	if len(c.AccountID) > maxField || len(c.UserName) > maxField || len(c.AccessKeyID) > maxField {
		return "", time.Time{}, errors.New("token: claim longer than 255 bytes")
	}
	iat := i.now().Unix()
	if iat < 0 {
		return "", time.Time{}, errors.New("token: clock before 1970")
	}
	life := uint64(ttl / time.Second)

	p := make([]byte, 0, 2*binary.MaxVarintLen64+3+len(c.AccountID)+len(c.UserName)+len(c.AccessKeyID))
	p = binary.AppendUvarint(p, uint64(iat))
	p = binary.AppendUvarint(p, life)
	for _, f := range [...]string{c.AccountID, c.UserName, c.AccessKeyID} {
		p = append(p, byte(len(f)))
		p = append(p, f...)
	}

	var b strings.Builder
	b.Grow(len(prefix) + len(kid) + 1 + b64.EncodedLen(len(p)) + 1 + b64.EncodedLen(macLen))
	b.WriteString(prefix)
	b.WriteString(kid)
	b.WriteByte('.')
	b.WriteString(b64.EncodeToString(p))
	mac := sign(i.Key, b.String())
	b.WriteByte('.')
	b.WriteString(b64.EncodeToString(mac))
	return b.String(), time.Unix(iat+int64(life), 0), nil
}

func sign(key []byte, signed string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(macLabel))
	m.Write([]byte(signed))
	return m.Sum(make([]byte, 0, macLen))
}

// Verify checks a token's MAC and expiry and returns its claims. Failures
// are *Error (ErrMalformed, ErrUnknownKey, ErrBadSignature, ErrExpired,
// ErrNotYetValid); for ErrExpired the (authentic) claims are returned too.
func (i *Issuer) Verify(token string) (Claims, error) {
	if len(token) > MaxTokenLen || !strings.HasPrefix(token, prefix) {
		return Claims{}, ErrMalformed
	}
	rest := token[len(prefix):]
	d1 := strings.IndexByte(rest, '.')
	if d1 < 0 {
		return Claims{}, ErrMalformed
	}
	kid := rest[:d1]
	d2 := strings.IndexByte(rest[d1+1:], '.')
	if d2 < 0 {
		return Claims{}, ErrMalformed
	}
	d2 += d1 + 1
	payload, macText := rest[d1+1:d2], rest[d2+1:]
	if strings.IndexByte(macText, '.') >= 0 || len(macText) != b64.EncodedLen(macLen) {
		return Claims{}, ErrMalformed
	}

	key := i.key(kid)
	if key == nil {
		return Claims{}, ErrUnknownKey
	}
	var got [macLen]byte
	if n, err := b64.Decode(got[:], []byte(macText)); err != nil || n != macLen {
		return Claims{}, ErrMalformed
	}
	if !hmac.Equal(got[:], sign(key, token[:len(prefix)+d2])) {
		return Claims{}, ErrBadSignature
	}

	p, err := b64.DecodeString(payload)
	if err != nil {
		return Claims{}, ErrMalformed
	}
	c, ok := parsePayload(p)
	if !ok {
		return Claims{}, ErrMalformed
	}
	c.KeyID = kid
	now := i.now()
	if !now.Before(c.ExpiresAt) {
		return c, ErrExpired
	}
	if c.IssuedAt.After(now.Add(futureLeeway)) {
		return Claims{}, ErrNotYetValid
	}
	return c, nil
}

// key returns the secret of key id kid, nil if unknown or unusable.
func (i *Issuer) key(kid string) []byte {
	if len(i.Key) >= MinKeyLen && kid == i.keyID() {
		return i.Key
	}
	for _, k := range i.Previous {
		if len(k.Secret) >= MinKeyLen && kid == k.ID {
			return k.Secret
		}
	}
	return nil
}

func parsePayload(p []byte) (Claims, bool) {
	iat, n := binary.Uvarint(p)
	if n <= 0 || iat > 1<<40 {
		return Claims{}, false
	}
	p = p[n:]
	life, n := binary.Uvarint(p)
	if n <= 0 || life > 1<<40 {
		return Claims{}, false
	}
	p = p[n:]
	var f [3]string
	for j := range f {
		if len(p) == 0 || len(p) < 1+int(p[0]) {
			return Claims{}, false
		}
		f[j] = string(p[1 : 1+int(p[0])])
		p = p[1+int(p[0]):]
	}
	if len(p) != 0 || f[0] == "" {
		return Claims{}, false
	}
	return Claims{
		AccountID:   f[0],
		UserName:    f[1],
		AccessKeyID: f[2],
		IssuedAt:    time.Unix(int64(iat), 0),
		ExpiresAt:   time.Unix(int64(iat+life), 0),
	}, true
}

// User is the user name that goes with a token in HTTP Basic credentials.
const User = "AWS"

// EncodeAuthorizationToken returns the authorizationToken field of
// GetAuthorizationToken: base64("AWS:" + token).
func EncodeAuthorizationToken(token string) string {
	return base64.StdEncoding.EncodeToString([]byte(User + ":" + token))
}

// DecodeAuthorizationToken is the inverse of EncodeAuthorizationToken.
func DecodeAuthorizationToken(s string) (token string, err error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", ErrMalformed
	}
	tok, ok := strings.CutPrefix(string(b), User+":")
	if !ok || tok == "" {
		return "", ErrMalformed
	}
	return tok, nil
}

// ParseBasicAWS picks a token out of HTTP Basic credentials ("docker login
// -u AWS -p <token>"). ok is false when they are not "AWS" and a
// password, for example an access key id and secret, which the caller
// then authenticates otherwise.
func ParseBasicAWS(user, pass string) (token string, ok bool) {
	if user != User || pass == "" {
		return "", false
	}
	return pass, true
}

// Authenticate implements access.Authenticator for Basic credentials that
// carry a token. Requests without them get access.ErrNoCredentials, so an
// authenticator chain can try the next method.
func (i *Issuer) Authenticate(r *http.Request) (access.Principal, error) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return access.Principal{}, access.ErrNoCredentials
	}
	tok, ok := ParseBasicAWS(user, pass)
	if !ok {
		return access.Principal{}, access.ErrNoCredentials
	}
	c, err := i.Verify(tok)
	if err != nil {
		return access.Principal{}, err
	}
	return c.Principal(), nil
}
