package sigv4

import (
	"net/http"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm supported.
const Algorithm = "AWS4-HMAC-SHA256"

// Terminator ends every credential scope.
const Terminator = "aws4_request"

// timeFormat is the ISO 8601 basic format of X-Amz-Date.
const timeFormat = "20060102T150405Z"

// Authorization is the content of an "Authorization: AWS4-HMAC-SHA256 ..."
// header, or of the equivalent presigned query parameters. Fields are as the
// client sent them.
type Authorization struct {
	Algorithm     string
	Credential    string // "AKID/20261123/us-east-1/ecr/aws4_request"
	SignedHeaders string // "host;x-amz-date"
	Signature     string // lowercase hex
}

// Scope is a parsed credential: access key id and credential scope.
type Scope struct {
	AccessKeyID string
	Date        string // YYYYMMDD
	Region      string
	Service     string
	Terminator  string // "aws4_request"
}

// String returns the credential scope without the access key id.
func (s Scope) String() string {
	return s.Date + "/" + s.Region + "/" + s.Service + "/" + s.Terminator
}

// Present reports whether r carries SigV4 authentication, in an
// Authorization header or in presigned query parameters; it lets a caller
// that also accepts Basic or Bearer credentials pick the verifier.
func Present(r *http.Request) bool {
	if hasAWS4Prefix(r.Header.Get("Authorization")) {
		return true
	}
	if r.URL == nil || r.URL.RawQuery == "" || !strings.Contains(r.URL.RawQuery, "X-Amz-") {
		return false
	}
	q := r.URL.Query()
	return q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Credential") || q.Has("X-Amz-Signature")
}

func hasAWS4Prefix(h string) bool {
	h = strings.TrimLeft(h, " \t")
	return len(h) >= 5 && strings.EqualFold(h[:5], "AWS4-")
}

// ParseAuthorization parses an "AWS4-HMAC-SHA256 Credential=...,
// SignedHeaders=..., Signature=..." header. Errors are *Error: an
// Authorization that is not AWS4 is MissingAuthenticationTokenException, a
// malformed or incomplete one IncompleteSignatureException.
func ParseAuthorization(h string) (Authorization, error) {
	a, msg, err := parseAuthorization(h)
	if err != nil {
		return Authorization{}, err
	}
	if msg != "" {
		return Authorization{}, errIncomplete(msg + "Authorization=" + h)
	}
	if err := checkAlgorithm(a.Algorithm); err != nil {
		return Authorization{}, err
	}
	return a, nil
}

// parseAuthorization splits the header. Missing parameters are reported in
// msg (AWS reports them together with a missing date) rather than as err.
func parseAuthorization(h string) (a Authorization, msg string, err error) {
	h = strings.Trim(h, " \t")
	if !hasAWS4Prefix(h) {
		return a, "", errMissing()
	}
	rest := ""
	if i := strings.IndexAny(h, " \t"); i >= 0 {
		a.Algorithm, rest = h[:i], h[i+1:]
	} else {
		a.Algorithm = h
	}
	var seen [3]bool
	for rest != "" {
		var part string
		if i := strings.IndexByte(rest, ','); i >= 0 {
			part, rest = rest[:i], rest[i+1:]
		} else {
			part, rest = rest, ""
		}
		part = strings.Trim(part, " \t")
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			return Authorization{}, "", errIncomplete("'" + part + "' not a valid key=value pair (missing equal-sign) in Authorization header: '" + h + "'.")
		}
		var idx int
		switch strings.TrimRight(k, " \t") {
		case "Credential":
			idx, a.Credential = 0, val
		case "SignedHeaders":
			idx, a.SignedHeaders = 1, val
		case "Signature":
			idx, a.Signature = 2, val
		default:
			continue
		}
		if seen[idx] {
			return Authorization{}, "", errIncomplete("Authorization header has duplicate '" + k + "' parameter: '" + h + "'.")
		}
		seen[idx] = true
	}
	if !seen[0] || a.Credential == "" {
		msg += "Authorization header requires 'Credential' parameter. "
	}
	if !seen[2] || a.Signature == "" {
		msg += "Authorization header requires 'Signature' parameter. "
	}
	if !seen[1] {
		msg += "Authorization header requires 'SignedHeaders' parameter. "
	}
	return a, msg, nil
}

func checkAlgorithm(alg string) error {
	if alg != Algorithm {
		return errIncomplete("Unsupported AWS 'algorithm': '" + alg + "' (only " + Algorithm + " for now). ")
	}
	return nil
}

// ParseCredential splits "AKID/date/region/service/aws4_request". Trailing
// slashes are ignored, as AWS ignores them.
func ParseCredential(c string) (Scope, error) {
	t := strings.TrimRight(c, "/")
	var p [5]string
	n := 0
	for n < 5 {
		i := strings.IndexByte(t, '/')
		if i < 0 {
			p[n] = t
			n++
			t = ""
			break
		}
		p[n], t = t[:i], t[i+1:]
		n++
	}
	if n != 5 || t != "" {
		return Scope{}, errIncomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '" + c + "'")
	}
	return Scope{AccessKeyID: p[0], Date: p[1], Region: p[2], Service: p[3], Terminator: p[4]}, nil
}

// splitSignedHeaders splits "host;x-amz-date" into names. canonical reports
// whether the list is in canonical form (lowercase, strictly sorted, no
// empty names), which the SDK signer always produces.
func splitSignedHeaders(s string) (names []string, canonical bool) {
	if s == "" {
		return nil, false
	}
	n := strings.Count(s, ";") + 1
	names = make([]string, 0, n)
	canonical = true
	for s != "" || len(names) < n {
		var name string
		if i := strings.IndexByte(s, ';'); i >= 0 {
			name, s = s[:i], s[i+1:]
		} else {
			name, s = s, ""
		}
		if name == "" || !isLower(name) || (len(names) > 0 && names[len(names)-1] >= name) {
			canonical = false
		}
		names = append(names, name)
	}
	return names, canonical
}

func isLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

func containsFold(names []string, name string) bool {
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

func parseAmzDate(s string) (time.Time, bool) {
	if len(s) != len(timeFormat) {
		return time.Time{}, false
	}
	t, err := time.Parse(timeFormat, s)
	if err != nil || t.Format(timeFormat) != s {
		return time.Time{}, false
	}
	return t, true
}

// dateLayouts are the formats of the HTTP Date header accepted when a
// client signs with Date rather than X-Amz-Date; Python's formatdate (used
// by botocore) writes "-0000" rather than "GMT".
var dateLayouts = [...]string{http.TimeFormat, time.RFC1123Z, time.RFC1123, time.RFC850, time.ANSIC}

func parseHTTPDate(s string) (time.Time, bool) {
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
