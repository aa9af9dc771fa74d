// Package sigv4 verifies AWS Signature Version 4 on incoming requests, in
// an Authorization header or in presigned query parameters, as the ECR API
// (AWS JSON 1.1, "POST /") receives them from the AWS CLI, boto3 and the
// AWS SDKs.
//
// The expected signature is computed by the AWS SDK for Go v2's own signer
// on a copy of the request that carries exactly the headers the client
// signed. The few signed-header sets the SDK signer cannot reproduce (see
// sdkEligible) go through this package's canonical request, which the
// tests hold to the SDK's output.
package sigv4

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/wharfhq/wharf/internal/access"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Defaults.
const (
	DefaultService = "ecr"
	DefaultMaxSkew = 15 * time.Minute
	// MaxPresignExpiry is the longest X-Amz-Expires accepted (a week).
	MaxPresignExpiry = 7 * 24 * time.Hour
)

// ErrUnknownAccessKey is what Lookup returns for an access key id it does
// not know (or that is inactive). meta.ErrNotFound and
// access.ErrBadCredentials are treated the same way. Any other Lookup error
// is returned from Verify wrapped, as an internal failure.
var ErrUnknownAccessKey = errors.New("sigv4: unknown access key")

// Credential is the secret side of an access key.
type Credential struct {
	Secret string
	// SessionToken is "" unless these are session (temporary) credentials,
	// in which case requests must carry it in X-Amz-Security-Token.
	SessionToken string
	// Expires is when session credentials expire; zero means never.
	Expires time.Time
	// Principal is handed back in Result untouched.
	Principal any
}

// Verifier verifies SigV4 signatures. Its fields must not change while it
// is in use; it is safe for concurrent use.
type Verifier struct {
	Region string
	// Service is the signing name requests must be scoped to ("ecr" when
	// empty); ExtraServices are further accepted signing names.
	Service       string
	ExtraServices []string
	// Lookup returns the credential of an access key id; see
	// ErrUnknownAccessKey.
	Lookup  func(ctx context.Context, accessKeyID string) (Credential, error)
	Now     func() time.Time // time.Now when nil
	MaxSkew time.Duration    // DefaultMaxSkew when zero

	noSDK bool // tests: always use this package's canonical request
}

// Result describes a verified request.
type Result struct {
	AccessKeyID   string
	Principal     any // Credential.Principal
	Region        string
	Service       string
	SignedHeaders []string // lowercase, in the client's order
	SigningTime   time.Time
	Presigned     bool
	Temporary     bool // signed with session credentials

	viaSDK bool // the SDK signer computed the signature (for tests)
}

// signed is a parsed, not yet verified, signed request.
type signed struct {
	presigned  bool
	auth       Authorization
	scope      Scope
	names      []string // signed header names as the client listed them
	canonNames bool     // names are lowercase, sorted, unique
	amzDate    string   // request time in ISO 8601 basic format
	t          time.Time
	dateHeader bool       // signed with Date rather than X-Amz-Date
	query      url.Values // query parameters that are signed
	tokens     []string   // X-Amz-Security-Token values sent
}

// Verify verifies the signature of r, whose body is body (the caller has
// read it; r.Body is not touched). Failures to authenticate are *Error;
// other errors (a failing Lookup, a misconfigured Verifier) are internal.
func (v *Verifier) Verify(r *http.Request, body []byte) (Result, error) {
	if v.Region == "" || v.Lookup == nil {
		return Result{}, errors.New("sigv4: Verifier needs Region and Lookup")
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	t := now().UTC()

	var q url.Values
	if r.URL.RawQuery != "" {
		q = r.URL.Query()
	}
	queryAuth := q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Credential") || q.Has("X-Amz-Signature")
	hdr := r.Header.Get("Authorization")
	headerAuth := hasAWS4Prefix(hdr)

	var s *signed
	var err error
	switch {
	case headerAuth && queryAuth:
		return Result{}, errIncomplete("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified")
	case headerAuth:
		s, err = v.fromHeader(r, hdr, q, t)
	case queryAuth:
		s, err = v.fromQuery(r, q, t)
	default:
		return Result{}, errMissing()
	}
	if err != nil {
		return Result{}, err
	}
	if err := v.checkScope(s); err != nil {
		return Result{}, err
	}

	akid := s.scope.AccessKeyID
	if akid == "" {
		return Result{}, errUnrecognized(msgUnknownKey, "empty access key id")
	}
	cred, err := v.Lookup(r.Context(), akid)
	if err != nil {
		if errors.Is(err, ErrUnknownAccessKey) || errors.Is(err, meta.ErrNotFound) || errors.Is(err, access.ErrBadCredentials) {
			return Result{}, errUnrecognized(msgUnknownKey, "unknown access key "+akid)
		}
		return Result{}, fmt.Errorf("sigv4: looking up access key %s: %w", akid, err)
	}
	if cred.Secret == "" {
		return Result{}, errUnrecognized(msgUnknownKey, "access key "+akid+" has no secret")
	}

	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if vs := r.Header.Values("X-Amz-Content-Sha256"); len(vs) > 0 {
		if len(vs) != 1 || !strings.EqualFold(vs[0], payloadHash) {
			return Result{}, errMismatch("X-Amz-Content-Sha256 is not the SHA-256 of the body")
		}
		payloadHash = vs[0]
	}

	var want string
	viaSDK := false
	if !v.noSDK {
		want, viaSDK = v.sdkSignature(r, s, akid, cred.Secret, payloadHash)
	}
	if !viaSDK {
		want = signature(cred.Secret, s.scope, stringToSign(s.amzDate, s.scope.String(),
			canonicalRequest(r, s.names, s.auth.SignedHeaders, s.query, payloadHash, false)))
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(s.auth.Signature)) != 1 {
		cr := canonicalRequest(r, s.names, s.auth.SignedHeaders, s.query, payloadHash, true)
		return Result{}, errMismatch(fmt.Sprintf("canonical request %q, string to sign %q",
			cr, stringToSign(s.amzDate, s.scope.String(), cr)))
	}

	// Session tokens are checked once the signature holds, as AWS does.
	if cred.SessionToken != "" || len(s.tokens) > 0 {
		if len(s.tokens) != 1 || subtle.ConstantTimeCompare([]byte(s.tokens[0]), []byte(cred.SessionToken)) != 1 {
			return Result{}, errUnrecognized(msgBadSessionToken, "session token does not match")
		}
	}
	if !cred.Expires.IsZero() && !t.Before(cred.Expires) {
		return Result{}, errExpired(msgExpiredToken)
	}

	names := make([]string, len(s.names))
	for i, n := range s.names {
		names[i] = strings.ToLower(n)
	}
	return Result{
		AccessKeyID:   akid,
		Principal:     cred.Principal,
		Region:        s.scope.Region,
		Service:       s.scope.Service,
		SignedHeaders: names,
		SigningTime:   s.t,
		Presigned:     s.presigned,
		Temporary:     cred.SessionToken != "",
		viaSDK:        viaSDK,
	}, nil
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return DefaultMaxSkew
}

func (v *Verifier) service() string {
	if v.Service != "" {
		return v.Service
	}
	return DefaultService
}

func (v *Verifier) serviceOK(s string) bool {
	if s == v.service() {
		return true
	}
	for _, e := range v.ExtraServices {
		if s == e {
			return true
		}
	}
	return false
}

// fromHeader parses Authorization-header authentication, in the order AWS
// checks it: parameters and date presence, date format, skew, host signed,
// algorithm, credential.
func (v *Verifier) fromHeader(r *http.Request, hdr string, q url.Values, now time.Time) (*signed, error) {
	a, msg, err := parseAuthorization(hdr)
	if err != nil {
		return nil, err
	}
	amz := r.Header.Get("X-Amz-Date")
	date := ""
	if amz == "" {
		date = r.Header.Get("Date")
		if date == "" {
			msg += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
		}
	}
	if msg != "" {
		return nil, errIncomplete(msg + "Authorization=" + hdr)
	}
	s := &signed{auth: a, query: q, tokens: r.Header.Values("X-Amz-Security-Token")}
	var ok bool
	if amz != "" {
		s.amzDate = amz
		if s.t, ok = parseAmzDate(amz); !ok {
			return nil, errBadDate(amz)
		}
	} else {
		if s.t, ok = parseHTTPDate(date); !ok {
			return nil, errBadDate(date)
		}
		s.amzDate = s.t.Format(timeFormat)
		s.dateHeader = true
	}
	if err := v.checkSkew(s.t, now); err != nil {
		return nil, err
	}
	s.names, s.canonNames = splitSignedHeaders(a.SignedHeaders)
	if !containsFold(s.names, "host") {
		return nil, errInvalid("'Host' must be a 'SignedHeader' in the AWS Authorization.", "")
	}
	if s.dateHeader {
		if !containsFold(s.names, "date") {
			return nil, errInvalid("'Date' must be a 'SignedHeader' in the AWS Authorization.", "")
		}
	} else if !containsFold(s.names, "x-amz-date") {
		return nil, errInvalid("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.", "")
	}
	if err := checkAlgorithm(a.Algorithm); err != nil {
		return nil, err
	}
	if s.scope, err = ParseCredential(a.Credential); err != nil {
		return nil, err
	}
	return s, nil
}

// presignParams are the query parameters a presigned request must carry.
var presignParams = [...]string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders"}

// fromQuery parses presigned (query-string) authentication.
func (v *Verifier) fromQuery(r *http.Request, q url.Values, now time.Time) (*signed, error) {
	for _, k := range presignParams {
		vs := q[k]
		if len(vs) == 0 || vs[0] == "" {
			return nil, errIncomplete("AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders'. Re-examine the query-string parameters.")
		}
		if len(vs) > 1 {
			return nil, errIncomplete("Query-string parameter '" + k + "' appears more than once.")
		}
	}
	s := &signed{
		presigned: true,
		auth: Authorization{
			Algorithm:     q.Get("X-Amz-Algorithm"),
			Credential:    q.Get("X-Amz-Credential"),
			SignedHeaders: q.Get("X-Amz-SignedHeaders"),
			Signature:     q.Get("X-Amz-Signature"),
		},
		amzDate: q.Get("X-Amz-Date"),
	}
	var ok bool
	if s.t, ok = parseAmzDate(s.amzDate); !ok {
		return nil, errBadDate(s.amzDate)
	}
	if vs, has := q["X-Amz-Expires"]; has {
		if len(vs) != 1 {
			return nil, errIncomplete("Query-string parameter 'X-Amz-Expires' appears more than once.")
		}
		n, err := strconv.ParseInt(vs[0], 10, 64)
		if err != nil || n < 0 {
			return nil, errIncomplete("X-Amz-Expires must be a non-negative integer, got '" + vs[0] + "'.")
		}
		if n > int64(MaxPresignExpiry/time.Second) {
			return nil, errIncomplete("X-Amz-Expires must be less than a week (in seconds) that is 604800")
		}
		skew := v.maxSkew()
		if s.t.After(now.Add(skew)) {
			return nil, errNotYetCurrent(s.t, now, skew)
		}
		if end := s.t.Add(time.Duration(n) * time.Second); now.After(end) {
			return nil, errExpired(fmt.Sprintf("Request has expired: signed at %s for %d seconds, which ended at %s; it is now %s.",
				s.amzDate, n, end.Format(timeFormat), now.Format(timeFormat)))
		}
	} else if err := v.checkSkew(s.t, now); err != nil {
		return nil, err
	}
	s.names, s.canonNames = splitSignedHeaders(s.auth.SignedHeaders)
	if !containsFold(s.names, "host") {
		return nil, errInvalid("'Host' must be a 'SignedHeader' in the AWS Authorization.", "")
	}
	if err := checkAlgorithm(s.auth.Algorithm); err != nil {
		return nil, err
	}
	var err error
	if s.scope, err = ParseCredential(s.auth.Credential); err != nil {
		return nil, err
	}
	s.tokens = q["X-Amz-Security-Token"]
	if len(s.tokens) == 0 {
		s.tokens = r.Header.Values("X-Amz-Security-Token")
	}
	// Every query parameter but the signature is signed.
	s.query = make(url.Values, len(q))
	for k, vs := range q {
		if k != "X-Amz-Signature" {
			s.query[k] = vs
		}
	}
	return s, nil
}

func errBadDate(got string) *Error {
	return errIncomplete("Date must be in ISO-8601 'basic format'. Got '" + got + "'. See http://en.wikipedia.org/wiki/ISO_8601")
}

func (v *Verifier) checkSkew(t, now time.Time) error {
	skew := v.maxSkew()
	if lo := now.Add(-skew); t.Before(lo) {
		return errInvalid(fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s.)",
			t.Format(timeFormat), lo.Format(timeFormat), now.Format(timeFormat), fmtSkew(skew)), "")
	}
	if t.After(now.Add(skew)) {
		return errNotYetCurrent(t, now, skew)
	}
	return nil
}

func errNotYetCurrent(t, now time.Time, skew time.Duration) *Error {
	return errInvalid(fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + %s.)",
		t.Format(timeFormat), now.Add(skew).Format(timeFormat), now.Format(timeFormat), fmtSkew(skew)), "")
}

func fmtSkew(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + " sec"
}

// checkScope checks the credential scope against the verifier's region and
// services and the request date, reporting every mismatch at once as AWS
// does.
func (v *Verifier) checkScope(s *signed) error {
	var msg string
	sc := s.scope
	if sc.Region != v.Region {
		msg += "Credential should be scoped to a valid region, not '" + sc.Region + "'. "
	}
	if !v.serviceOK(sc.Service) {
		msg += "Credential should be scoped to correct service: '" + v.service() + "'. "
	}
	if sc.Terminator != Terminator {
		msg += "Credential should be scoped with a valid terminator: 'aws4_request', not '" + sc.Terminator + "'. "
	}
	if day := s.amzDate[:8]; sc.Date != day {
		msg += "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" +
			sc.Date + "' != '" + day + "', from '" + s.amzDate + "'."
	}
	if msg != "" {
		return errInvalid(msg, "")
	}
	return nil
}

// sdkIgnored are the headers the SDK signer never signs.
var sdkIgnored = map[string]bool{
	"authorization": true, "user-agent": true, "x-amzn-trace-id": true,
	"expect": true, "transfer-encoding": true,
}

// sdkEligible reports whether the SDK signer can reproduce the client's
// canonical request: it signs every header of the request it is given but
// a few (sdkIgnored), always signs host and (header auth) X-Amz-Date from
// the signing time, signs content-length only from a positive
// Request.ContentLength, and writes the signed header list lowercase and
// sorted.
func sdkEligible(r *http.Request, s *signed) bool {
	if !s.canonNames || s.dateHeader {
		return false
	}
	for _, n := range s.names {
		if sdkIgnored[n] {
			return false
		}
		switch n {
		case "content-length":
			vs := headerValues(r, n)
			if len(vs) != 1 {
				return false
			}
			cl, err := strconv.ParseInt(vs[0], 10, 64)
			if err != nil || cl <= 0 || strconv.FormatInt(cl, 10) != vs[0] {
				return false
			}
		case "x-amz-date":
			if !s.presigned && len(headerValues(r, n)) != 1 {
				return false
			}
		}
	}
	if s.presigned && s.auth.Credential != s.scope.AccessKeyID+"/"+s.scope.String() {
		return false
	}
	return true
}

// sdkSignature computes the expected signature with the SDK signer on a
// copy of r that carries only the headers the client signed. ok is false
// when the SDK cannot reproduce the client's canonical request.
func (v *Verifier) sdkSignature(r *http.Request, s *signed, akid, secret, payloadHash string) (sig string, ok bool) {
	if !sdkEligible(r, s) {
		return "", false
	}
	c := &http.Request{
		Method: r.Method,
		URL:    &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, Host: r.Host},
		Host:   r.Host,
		Header: make(http.Header, len(s.names)+2),
	}
	if s.presigned {
		c.URL.RawQuery = s.query.Encode()
	} else {
		c.URL.RawQuery = r.URL.RawQuery
	}
	keys, vals := signedHeaderValues(r, s.names)
	for i, n := range s.names {
		switch n {
		case "host": // from c.Host
		case "content-length":
			c.ContentLength, _ = strconv.ParseInt(vals[i][0], 10, 64)
		default:
			k, vs := keys[i], vals[i]
			if vs == nil {
				k, vs = textproto.CanonicalMIMEHeaderKey(n), []string{""}
			}
			// A copy: the signer writes into some header slices.
			c.Header[k] = append([]string(nil), vs...)
		}
	}
	signer := signerFor(akid, secret)
	creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}
	ctx := context.Background()
	if !s.presigned {
		if err := signer.SignHTTP(ctx, creds, c, payloadHash, s.scope.Service, s.scope.Region, s.t); err != nil {
			return "", false
		}
		// "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..."
		a := c.Header.Get("Authorization")
		i := strings.Index(a, ", SignedHeaders=")
		j := strings.LastIndex(a, ", Signature=")
		if i < 0 || j < i || a[i+len(", SignedHeaders="):j] != s.auth.SignedHeaders {
			return "", false
		}
		return a[j+len(", Signature="):], true
	}
	uri, _, err := signer.PresignHTTP(ctx, creds, c, payloadHash, s.scope.Service, s.scope.Region, s.t,
		func(o *v4.SignerOptions) { o.DisableHeaderHoisting = true })
	if err != nil {
		return "", false
	}
	u, err := url.Parse(uri)
	if err != nil {
		return "", false
	}
	sq := u.Query()
	if sq.Get("X-Amz-SignedHeaders") != s.auth.SignedHeaders || sq.Get("X-Amz-Credential") != s.auth.Credential {
		return "", false
	}
	return sq.Get("X-Amz-Signature"), true
}

// signedHeaderValues finds the headers named (lowercase) in r.Header in
// one pass, returning each one's key and values (nil when absent). Go's
// server keeps Host and Transfer-Encoding outside r.Header; callers
// handle those.
func signedHeaderValues(r *http.Request, names []string) (keys []string, vals [][]string) {
	keys, vals = make([]string, len(names)), make([][]string, len(names))
	for k, vs := range r.Header {
		for i, n := range names {
			if len(k) == len(n) && vals[i] == nil && strings.EqualFold(k, n) {
				keys[i], vals[i] = k, vs
				break
			}
		}
	}
	return keys, vals
}

// signers caches an SDK signer per access key. A signer caches the keys
// it derives by access key id and day; the secret is part of this cache's
// key (an entry is replaced when the secret differs), so a changed secret
// takes effect at once.
var signers struct {
	sync.RWMutex
	m map[string]cachedSigner
}

type cachedSigner struct {
	secret string
	signer *v4.Signer
}

const maxCachedSigners = 4096

func signerFor(akid, secret string) *v4.Signer {
	signers.RLock()
	c, ok := signers.m[akid]
	signers.RUnlock()
	if ok && c.secret == secret {
		return c.signer
	}
	c = cachedSigner{secret: secret, signer: v4.NewSigner()}
	signers.Lock()
	if signers.m == nil || len(signers.m) >= maxCachedSigners {
		signers.m = make(map[string]cachedSigner)
	}
	signers.m[akid] = c
	signers.Unlock()
	return c.signer
}
