package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strings"
)

// This file computes the canonical request without the SDK. The verifier
// uses it only for what the SDK signer cannot reproduce (see sdkEligible):
// a signed header the SDK never signs (user-agent, expect, ...), a
// "content-length: 0", a Date header instead of X-Amz-Date, a signed
// header list that is not lowercase and sorted. It follows the same rules
// as the SDK signer, and the tests hold the two to the same signatures.

// canonicalRequest builds the canonical request of r for the client's
// signed header list (names as split from signedRaw, used in the given
// order), the canonical query of query and payloadHash. redact hides the
// session token, for logs.
func canonicalRequest(r *http.Request, names []string, signedRaw string, query url.Values, payloadHash string, redact bool) string {
	if redact && query.Has(tokenParam) {
		q := make(url.Values, len(query))
		for k, v := range query {
			q[k] = v
		}
		q[tokenParam] = []string{redacted}
		query = q
	}
	var b strings.Builder
	b.Grow(256)
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r.URL))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(query))
	b.WriteByte('\n')
	for _, name := range names {
		lname := strings.ToLower(name)
		b.WriteString(lname)
		b.WriteByte(':')
		for i, v := range headerValues(r, lname) {
			if i > 0 {
				b.WriteByte(',')
			}
			if redact && (lname == "x-amz-security-token" || lname == "authorization") {
				v = redacted
			}
			b.WriteString(trimAll(v))
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(signedRaw)
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

const (
	tokenParam = "X-Amz-Security-Token"
	redacted   = "<redacted>"
)

// stringToSign builds the string to sign of a canonical request.
func stringToSign(amzDate, scope, canonical string) string {
	h := sha256.Sum256([]byte(canonical))
	return Algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(h[:])
}

// signature derives the signing key and signs sts.
func signature(secret string, s Scope, sts string) string {
	k := hmacSHA256([]byte("AWS4"+secret), s.Date)
	k = hmacSHA256(k, s.Region)
	k = hmacSHA256(k, s.Service)
	k = hmacSHA256(k, Terminator)
	return hex.EncodeToString(hmacSHA256(k, sts))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// headerValues returns the values of the header lname (lowercase) as the
// client sent it; Go's server keeps Host and Transfer-Encoding outside
// r.Header.
func headerValues(r *http.Request, lname string) []string {
	switch lname {
	case "host":
		return []string{r.Host}
	case "transfer-encoding":
		if len(r.TransferEncoding) > 0 {
			return r.TransferEncoding
		}
	}
	if v, ok := r.Header[textproto.CanonicalMIMEHeaderKey(lname)]; ok {
		return v
	}
	// Names that are not valid tokens are kept as sent.
	for k, v := range r.Header {
		if strings.EqualFold(k, lname) {
			return v
		}
	}
	return nil
}

// trimAll trims a header value and collapses runs of spaces, as the SDK
// signer does.
func trimAll(v string) string {
	v = strings.TrimSpace(v)
	if !strings.Contains(v, "  ") {
		return v
	}
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' && i > 0 && v[i-1] == ' ' {
			continue
		}
		b = append(b, v[i])
	}
	return string(b)
}

// canonicalURI is the URI-encoded path, encoded once more: AWS services
// other than S3 sign the path with every byte outside the unreserved set
// and '/' escaped, applied to the path as it was sent (already escaped).
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	return escape(p, false)
}

// canonicalQuery encodes names and values and sorts the encoded pairs.
func canonicalQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	type pair struct{ k, v string }
	ps := make([]pair, 0, len(q))
	for k, vs := range q {
		ek := escape(k, true)
		for _, v := range vs {
			ps = append(ps, pair{ek, escape(v, true)})
		}
	}
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].k != ps[j].k {
			return ps[i].k < ps[j].k
		}
		return ps[i].v < ps[j].v
	})
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// escape percent-encodes every byte outside A-Z a-z 0-9 - _ . ~ (and '/'
// unless slash), with uppercase hex.
func escape(s string, slash bool) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) && (slash || s[i] != '/') {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hexd = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || (!slash && c == '/') {
			b = append(b, c)
		} else {
			b = append(b, '%', hexd[c>>4], hexd[c&15])
		}
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}
