package sigv4

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/wharfhq/wharf/internal/access"
)

const (
	testAKID   = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testRegion = "us-east-1"
	sessAKID   = "ASIAEXAMPLESESSION"
	sessSecret = "c2Vzc2lvbi1zZWNyZXQtZXhhbXBsZS1rZXk="
	sessToken  = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+session+token=="
	ecrTarget  = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
)

// signTime is when test requests are signed; verifiers' clocks read it.
var signTime = time.Date(2026, 11, 23, 12, 34, 56, 0, time.UTC)

type principal struct{ name string }

func testCreds() map[string]Credential {
	return map[string]Credential{
		testAKID: {Secret: testSecret, Principal: principal{"alice"}},
		sessAKID: {Secret: sessSecret, SessionToken: sessToken, Principal: principal{"session"}},
	}
}

func newVerifier(creds map[string]Credential, now time.Time) *Verifier {
	return &Verifier{
		Region: testRegion,
		Lookup: func(_ context.Context, id string) (Credential, error) {
			c, ok := creds[id]
			if !ok {
				return Credential{}, ErrUnknownAccessKey
			}
			return c, nil
		},
		Now: func() time.Time { return now },
	}
}

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// captured is a request as the server received it.
type captured struct {
	r    *http.Request
	body []byte
}

// server records every request it receives.
type server struct {
	*httptest.Server
	got chan captured
}

func newServer(t testing.TB) *server {
	s := &server{got: make(chan captured, 16)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.got <- captured{r.Clone(context.Background()), body}
		w.Write([]byte("{}"))
	}))
	t.Cleanup(s.Close)
	return s
}

// send sends req and returns it as the server saw it.
func (s *server) send(t testing.TB, req *http.Request) captured {
	t.Helper()
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return <-s.got
}

// sdkRequest builds a client request to srv and signs it with the SDK.
func sdkRequest(t testing.TB, srv *server, method, pathQuery string, body []byte, hdr http.Header, creds aws.Credentials, service, region string, at time.Time) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+pathQuery, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = append([]string(nil), vs...)
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hashHex(body), service, region, at); err != nil {
		t.Fatal(err)
	}
	return req
}

var staticCreds = aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}

func ecrHeaders() http.Header {
	return http.Header{
		"Content-Type": {"application/x-amz-json-1.1"},
		"X-Amz-Target": {ecrTarget},
	}
}

// wantCode checks that err is an *Error with code (and, if non-empty, a
// message starting with msg).
func wantCode(t testing.TB, err error, code, msg string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *Error %s", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("code %s (%s), want %s", e.Code, e.Message, code)
	}
	if msg != "" && !strings.HasPrefix(e.Message, msg) {
		t.Fatalf("message %q, want prefix %q", e.Message, msg)
	}
	if e.ErrorCode() != code || e.HTTPStatus() == 0 {
		t.Fatalf("ErrorCode %q HTTPStatus %d", e.ErrorCode(), e.HTTPStatus())
	}
}

// verifyBoth verifies c through the SDK signer and through the package's
// canonical request, and checks that the two agree.
func verifyBoth(t testing.TB, v *Verifier, c captured, wantSDK bool) Result {
	t.Helper()
	res, err := v.Verify(c.r, c.body)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if res.viaSDK != wantSDK {
		t.Fatalf("viaSDK = %v, want %v", res.viaSDK, wantSDK)
	}
	own := *v
	own.noSDK = true
	res2, err := own.Verify(c.r, c.body)
	if err != nil {
		t.Fatalf("Verify with the package's canonical request: %v", err)
	}
	if res2.viaSDK {
		t.Fatal("noSDK verifier used the SDK")
	}
	return res
}

func TestVerifySDKSigned(t *testing.T) {
	srv := newServer(t)
	big := bytes.Repeat([]byte(`{"layerPartBlob":"QUJDRA=="}`), 4000)
	cases := []struct {
		name      string
		method    string
		pathQuery string
		body      []byte
		hdr       http.Header
	}{
		{"ecr json", "POST", "/", []byte(`{"registryIds":["123456789012"]}`), ecrHeaders()},
		{"ecr empty json", "POST", "/", []byte(`{}`), ecrHeaders()},
		{"empty body", "POST", "/", nil, nil},
		{"get no body", "GET", "/", nil, nil},
		{"delete", "DELETE", "/v1/thing", nil, http.Header{"X-Amz-Target": {"x"}}},
		{"query", "GET", "/list?b=2&a=1&a=0&c=%20x%2By&d=a%2Fb&e=&f&%C3%BC=%E2%82%AC&tilde=~-_.", nil, nil},
		{"unicode path", "GET", "/%C3%BCn%C3%AF/c%C3%B6d%C3%A9%20x/%E2%82%AC", nil, nil},
		{"escaped slash path", "POST", "/a%2Fb/c%3Bd/", []byte("x"), nil},
		{"spaces and multi-value", "POST", "/", []byte(`{}`), http.Header{
			"X-Custom": {"  a   b    c  "},
			"X-Multi":  {"one", "  two  three "},
			"X-Empty":  {""},
		}},
		{"content sha256 header", "POST", "/", []byte(`{"a":1}`), http.Header{
			"X-Amz-Content-Sha256": {hashHex([]byte(`{"a":1}`))},
			"Content-Type":         {"application/x-amz-json-1.1"},
		}},
		{"many headers", "PUT", "/r?x=1", []byte("body"), http.Header{
			"Content-Type":          {"application/octet-stream"},
			"Content-Md5":           {"abc"},
			"X-Amz-Meta-Foo":        {"bar"},
			"Amz-Sdk-Invocation-Id": {"0b8b3a8e-7c49-4b34-9e1d-6d1c9c0c2d3e"},
			"Amz-Sdk-Request":       {"attempt=1; max=3"},
			"Accept":                {"application/json"},
		}},
		{"large body", "POST", "/", big, ecrHeaders()},
	}
	v := newVerifier(testCreds(), signTime)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := sdkRequest(t, srv, tc.method, tc.pathQuery, tc.body, tc.hdr, staticCreds, "ecr", testRegion, signTime)
			c := srv.send(t, req)
			res := verifyBoth(t, v, c, true)
			if res.AccessKeyID != testAKID || res.Principal != (principal{"alice"}) || res.Region != testRegion ||
				res.Service != "ecr" || !res.SigningTime.Equal(signTime) || res.Presigned || res.Temporary {
				t.Fatalf("result %+v", res)
			}
			if res.SignedHeaders[0] != "content-length" && res.SignedHeaders[0] != "host" && res.SignedHeaders[0] != "accept" {
				t.Fatalf("signed headers %v", res.SignedHeaders)
			}
		})
	}
}

// TestAWSTestSuiteVector checks the "get-vanilla" case of AWS's published
// SigV4 test suite, signature included.
func TestAWSTestSuiteVector(t *testing.T) {
	r := httptest.NewRequest("GET", "http://example.amazonaws.com/", nil)
	r.Header.Set("X-Amz-Date", "20150830T123600Z")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
	v := newVerifier(testCreds(), time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC))
	v.Service = "service"
	verifyBoth(t, v, captured{r, nil}, true)
}

func TestTampering(t *testing.T) {
	srv := newServer(t)
	body := []byte(`{"registryIds":["123456789012"]}`)
	orig := srv.send(t, sdkRequest(t, srv, "POST", "/", body, ecrHeaders(), staticCreds, "ecr", testRegion, signTime))
	v := newVerifier(testCreds(), signTime)
	verifyBoth(t, v, orig, true)

	authz := orig.r.Header.Get("Authorization")
	a, err := ParseAuthorization(authz)
	if err != nil {
		t.Fatal(err)
	}
	setAuth := func(r *http.Request, cred, signed, sig string) {
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+cred+", SignedHeaders="+signed+", Signature="+sig)
	}
	scope := "20261123/us-east-1/ecr/aws4_request"
	cases := []struct {
		name   string
		mutate func(r *http.Request, body []byte) []byte
		code   string
		msg    string
	}{
		{"body byte", func(_ *http.Request, b []byte) []byte { b[3] ^= 1; return b }, CodeInvalidSignature, msgSignatureMismatch},
		{"body appended", func(_ *http.Request, b []byte) []byte { return append(b, ' ') }, CodeInvalidSignature, msgSignatureMismatch},
		{"empty body", func(_ *http.Request, b []byte) []byte { return nil }, CodeInvalidSignature, msgSignatureMismatch},
		{"header value", func(r *http.Request, b []byte) []byte {
			r.Header.Set("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.DeleteRepository")
			return b
		}, CodeInvalidSignature, msgSignatureMismatch},
		{"header value case", func(r *http.Request, b []byte) []byte {
			r.Header.Set("Content-Type", "application/X-amz-json-1.1")
			return b
		}, CodeInvalidSignature, msgSignatureMismatch},
		{"extra value of signed header", func(r *http.Request, b []byte) []byte {
			r.Header.Add("X-Amz-Target", "x")
			return b
		}, CodeInvalidSignature, msgSignatureMismatch},
		{"host", func(r *http.Request, b []byte) []byte { r.Host = "evil.example.com"; return b }, CodeInvalidSignature, msgSignatureMismatch},
		{"method", func(r *http.Request, b []byte) []byte { r.Method = "PUT"; return b }, CodeInvalidSignature, msgSignatureMismatch},
		{"path", func(r *http.Request, b []byte) []byte { r.URL.Path = "/x"; return b }, CodeInvalidSignature, msgSignatureMismatch},
		{"query added", func(r *http.Request, b []byte) []byte { r.URL.RawQuery = "a=1"; return b }, CodeInvalidSignature, msgSignatureMismatch},
		{"date second", func(r *http.Request, b []byte) []byte {
			r.Header.Set("X-Amz-Date", "20261123T123457Z")
			return b
		}, CodeInvalidSignature, msgSignatureMismatch},
		{"date format", func(r *http.Request, b []byte) []byte {
			r.Header.Set("X-Amz-Date", "2026-11-23T12:34:56Z")
			return b
		}, CodeIncompleteSignature, "Date must be in ISO-8601 'basic format'. Got '2026-11-23T12:34:56Z'."},
		{"scope date", func(r *http.Request, b []byte) []byte {
			setAuth(r, testAKID+"/20261122/us-east-1/ecr/aws4_request", a.SignedHeaders, a.Signature)
			return b
		}, CodeInvalidSignature, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261122' != '20261123', from '20261123T123456Z'."},
		{"region", func(r *http.Request, b []byte) []byte {
			setAuth(r, testAKID+"/20261123/us-west-2/ecr/aws4_request", a.SignedHeaders, a.Signature)
			return b
		}, CodeInvalidSignature, "Credential should be scoped to a valid region, not 'us-west-2'. "},
		{"service", func(r *http.Request, b []byte) []byte {
			setAuth(r, testAKID+"/20261123/us-east-1/s3/aws4_request", a.SignedHeaders, a.Signature)
			return b
		}, CodeInvalidSignature, "Credential should be scoped to correct service: 'ecr'. "},
		{"terminator", func(r *http.Request, b []byte) []byte {
			setAuth(r, testAKID+"/20261123/us-east-1/ecr/aws5_request", a.SignedHeaders, a.Signature)
			return b
		}, CodeInvalidSignature, "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "},
		{"credential parts", func(r *http.Request, b []byte) []byte {
			setAuth(r, testAKID+"/20261123/us-east-1/aws4_request", a.SignedHeaders, a.Signature)
			return b
		}, CodeIncompleteSignature, "Credential must have exactly 5 slash-delimited elements"},
		{"unknown key", func(r *http.Request, b []byte) []byte {
			setAuth(r, "AKIDUNKNOWN/"+scope, a.SignedHeaders, a.Signature)
			return b
		}, CodeUnrecognizedClient, "The security token included in the request is invalid."},
		{"other key", func(r *http.Request, b []byte) []byte {
			setAuth(r, sessAKID+"/"+scope, a.SignedHeaders, a.Signature)
			return b
		}, CodeInvalidSignature, msgSignatureMismatch},
		{"signed header dropped", func(r *http.Request, b []byte) []byte {
			setAuth(r, a.Credential, strings.Replace(a.SignedHeaders, ";x-amz-target", "", 1), a.Signature)
			return b
		}, CodeInvalidSignature, msgSignatureMismatch},
		{"signed header added", func(r *http.Request, b []byte) []byte {
			r.Header.Set("X-Extra", "1")
			setAuth(r, a.Credential, a.SignedHeaders+";x-extra", a.Signature)
			return b
		}, CodeInvalidSignature, msgSignatureMismatch},
		{"signed header absent", func(r *http.Request, b []byte) []byte {
			setAuth(r, a.Credential, a.SignedHeaders+";x-nothere", a.Signature)
			return b
		}, CodeInvalidSignature, msgSignatureMismatch},
		{"signed headers reordered", func(r *http.Request, b []byte) []byte {
			setAuth(r, a.Credential, "x-amz-target;"+strings.Replace(a.SignedHeaders, ";x-amz-target", "", 1), a.Signature)
			return b
		}, CodeInvalidSignature, msgSignatureMismatch},
		{"host unsigned", func(r *http.Request, b []byte) []byte {
			setAuth(r, a.Credential, strings.Replace(a.SignedHeaders, "host;", "", 1), a.Signature)
			return b
		}, CodeInvalidSignature, "'Host' must be a 'SignedHeader' in the AWS Authorization."},
		{"date unsigned", func(r *http.Request, b []byte) []byte {
			setAuth(r, a.Credential, strings.Replace(a.SignedHeaders, ";x-amz-date", "", 1), a.Signature)
			return b
		}, CodeInvalidSignature, "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."},
		{"signature flipped", func(r *http.Request, b []byte) []byte {
			sig := []byte(a.Signature)
			sig[10] ^= 1
			setAuth(r, a.Credential, a.SignedHeaders, string(sig))
			return b
		}, CodeInvalidSignature, msgSignatureMismatch},
		{"signature uppercase", func(r *http.Request, b []byte) []byte {
			setAuth(r, a.Credential, a.SignedHeaders, strings.ToUpper(a.Signature))
			return b
		}, CodeInvalidSignature, msgSignatureMismatch},
		{"signature truncated", func(r *http.Request, b []byte) []byte {
			setAuth(r, a.Credential, a.SignedHeaders, a.Signature[:63])
			return b
		}, CodeInvalidSignature, msgSignatureMismatch},
		{"algorithm", func(r *http.Request, b []byte) []byte {
			r.Header.Set("Authorization", strings.Replace(authz, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512", 1))
			return b
		}, CodeIncompleteSignature, "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'"},
		{"no parameters", func(r *http.Request, b []byte) []byte {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256")
			return b
		}, CodeIncompleteSignature, "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256"},
		{"no date", func(r *http.Request, b []byte) []byte {
			r.Header.Del("X-Amz-Date")
			return b
		}, CodeIncompleteSignature, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization="},
		{"missing equal sign", func(r *http.Request, b []byte) []byte {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential, SignedHeaders=host, Signature=00")
			return b
		}, CodeIncompleteSignature, "'Credential' not a valid key=value pair (missing equal-sign) in Authorization header"},
		{"no authorization", func(r *http.Request, b []byte) []byte { r.Header.Del("Authorization"); return b }, CodeMissingAuthenticationToken, "Missing Authentication Token"},
		{"basic authorization", func(r *http.Request, b []byte) []byte {
			r.SetBasicAuth("AWS", "token")
			return b
		}, CodeMissingAuthenticationToken, "Missing Authentication Token"},
		{"content sha256 mismatch", func(r *http.Request, b []byte) []byte {
			r.Header.Set("X-Amz-Content-Sha256", hashHex([]byte("other")))
			return b
		}, CodeInvalidSignature, msgSignatureMismatch},
		{"unsolicited session token", func(r *http.Request, b []byte) []byte {
			r.Header.Set("X-Amz-Security-Token", sessToken)
			return b
		}, CodeUnrecognizedClient, msgBadSessionToken},
		{"header and query auth", func(r *http.Request, b []byte) []byte {
			r.URL.RawQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256"
			return b
		}, CodeIncompleteSignature, "Only one auth mechanism allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := orig.r.Clone(context.Background())
			b := tc.mutate(r, append([]byte(nil), orig.body...))
			for _, noSDK := range []bool{false, true} {
				vv := *v
				vv.noSDK = noSDK
				_, err := vv.Verify(r, b)
				wantCode(t, err, tc.code, tc.msg)
				if tc.code == CodeMissingAuthenticationToken {
					if !errors.Is(err, access.ErrNoCredentials) || errors.Is(err, access.ErrBadCredentials) {
						t.Fatal("missing token should be access.ErrNoCredentials")
					}
				} else if !errors.Is(err, access.ErrBadCredentials) || errors.Is(err, access.ErrNoCredentials) {
					t.Fatal("failure should be access.ErrBadCredentials")
				}
			}
		})
	}

	t.Run("wrong secret", func(t *testing.T) {
		creds := testCreds()
		creds[testAKID] = Credential{Secret: testSecret + "x"}
		_, err := newVerifier(creds, signTime).Verify(orig.r, orig.body)
		wantCode(t, err, CodeInvalidSignature, msgSignatureMismatch)
	})
	t.Run("secret changed between requests", func(t *testing.T) {
		// The SDK caches derived keys by access key id; a changed secret
		// must take effect at once.
		creds := testCreds()
		v := newVerifier(creds, signTime)
		if _, err := v.Verify(orig.r, orig.body); err != nil {
			t.Fatal(err)
		}
		creds[testAKID] = Credential{Secret: "rotated"}
		_, err := v.Verify(orig.r, orig.body)
		wantCode(t, err, CodeInvalidSignature, msgSignatureMismatch)
	})
	t.Run("empty secret", func(t *testing.T) {
		creds := testCreds()
		creds[testAKID] = Credential{}
		_, err := newVerifier(creds, signTime).Verify(orig.r, orig.body)
		wantCode(t, err, CodeUnrecognizedClient, msgUnknownKey)
	})
	t.Run("lookup failure", func(t *testing.T) {
		v := newVerifier(testCreds(), signTime)
		boom := errors.New("database down")
		v.Lookup = func(context.Context, string) (Credential, error) { return Credential{}, boom }
		_, err := v.Verify(orig.r, orig.body)
		var e *Error
		if !errors.Is(err, boom) || errors.As(err, &e) {
			t.Fatalf("err %v, want wrapped internal error", err)
		}
	})
	t.Run("region signed by client", func(t *testing.T) {
		c := srv.send(t, sdkRequest(t, srv, "POST", "/", body, ecrHeaders(), staticCreds, "ecr", "eu-west-1", signTime))
		_, err := v.Verify(c.r, c.body)
		wantCode(t, err, CodeInvalidSignature, "Credential should be scoped to a valid region, not 'eu-west-1'. ")
	})
	t.Run("service signed by client", func(t *testing.T) {
		c := srv.send(t, sdkRequest(t, srv, "POST", "/", body, ecrHeaders(), staticCreds, "sts", testRegion, signTime))
		_, err := v.Verify(c.r, c.body)
		wantCode(t, err, CodeInvalidSignature, "Credential should be scoped to correct service: 'ecr'. ")
		vv := *v
		vv.ExtraServices = []string{"ecr-public", "sts"}
		res, err := vv.Verify(c.r, c.body)
		if err != nil || res.Service != "sts" {
			t.Fatalf("extra service: %v %+v", err, res)
		}
	})
	t.Run("everything wrong in scope", func(t *testing.T) {
		r := orig.r.Clone(context.Background())
		setAuth(r, testAKID+"/b/c/d/e", a.SignedHeaders, a.Signature)
		_, err := v.Verify(r, orig.body)
		wantCode(t, err, CodeInvalidSignature, "Credential should be scoped to a valid region, not 'c'. Credential should be scoped to correct service: 'ecr'. Credential should be scoped with a valid terminator: 'aws4_request', not 'e'. Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: 'b' != '20261123', from '20261123T123456Z'.")
	})
}

func TestClockSkew(t *testing.T) {
	srv := newServer(t)
	c := srv.send(t, sdkRequest(t, srv, "POST", "/", []byte(`{}`), ecrHeaders(), staticCreds, "ecr", testRegion, signTime))
	for _, d := range []time.Duration{0, time.Second, -time.Second, 15 * time.Minute, -15 * time.Minute, 14*time.Minute + 59*time.Second} {
		if _, err := newVerifier(testCreds(), signTime.Add(d)).Verify(c.r, c.body); err != nil {
			t.Errorf("server clock %v from signing time: %v", d, err)
		}
	}
	// The server's clock is ahead: the signature is too old.
	_, err := newVerifier(testCreds(), signTime.Add(15*time.Minute+time.Second)).Verify(c.r, c.body)
	wantCode(t, err, CodeInvalidSignature, "Signature expired: 20261123T123456Z is now earlier than 20261123T123457Z (20261123T124957Z - 15 min.)")
	// The server's clock is behind: the signature is from the future.
	_, err = newVerifier(testCreds(), signTime.Add(-15*time.Minute-time.Second)).Verify(c.r, c.body)
	wantCode(t, err, CodeInvalidSignature, "Signature not yet current: 20261123T123456Z is still later than 20261123T123455Z (20261123T121955Z + 15 min.)")
	// A configured skew.
	v := newVerifier(testCreds(), signTime.Add(5*time.Minute+time.Second))
	v.MaxSkew = 5 * time.Minute
	_, err = v.Verify(c.r, c.body)
	wantCode(t, err, CodeInvalidSignature, "Signature expired: 20261123T123456Z is now earlier than 20261123T123457Z (20261123T123957Z - 5 min.)")
}

func TestSessionTokens(t *testing.T) {
	srv := newServer(t)
	body := []byte(`{}`)
	sess := aws.Credentials{AccessKeyID: sessAKID, SecretAccessKey: sessSecret, SessionToken: sessToken}
	v := newVerifier(testCreds(), signTime)

	c := srv.send(t, sdkRequest(t, srv, "POST", "/", body, ecrHeaders(), sess, "ecr", testRegion, signTime))
	res := verifyBoth(t, v, c, true)
	if !res.Temporary || res.Principal != (principal{"session"}) {
		t.Fatalf("result %+v", res)
	}
	if !containsFold(res.SignedHeaders, "x-amz-security-token") {
		t.Fatalf("token not signed: %v", res.SignedHeaders)
	}

	// A tampered token fails the signature; logs do not see the token.
	r := c.r.Clone(context.Background())
	r.Header.Set("X-Amz-Security-Token", sessToken+"x")
	_, err := v.Verify(r, c.body)
	wantCode(t, err, CodeInvalidSignature, msgSignatureMismatch)
	if e := err.(*Error); !strings.Contains(e.Reason, "x-amz-security-token:<redacted>") || strings.Contains(err.Error(), sessToken) {
		t.Fatalf("reason %q", e.Reason)
	}

	// A validly signed request with another token.
	other := sess
	other.SessionToken = "another-token"
	c = srv.send(t, sdkRequest(t, srv, "POST", "/", body, ecrHeaders(), other, "ecr", testRegion, signTime))
	_, err = v.Verify(c.r, c.body)
	wantCode(t, err, CodeUnrecognizedClient, "The security token included in the request is invalid")

	// Session credentials without their token.
	other.SessionToken = ""
	c = srv.send(t, sdkRequest(t, srv, "POST", "/", body, ecrHeaders(), other, "ecr", testRegion, signTime))
	_, err = v.Verify(c.r, c.body)
	wantCode(t, err, CodeUnrecognizedClient, "The security token included in the request is invalid")

	// Expired session credentials.
	creds := testCreds()
	cr := creds[sessAKID]
	cr.Expires = signTime
	creds[sessAKID] = cr
	c = srv.send(t, sdkRequest(t, srv, "POST", "/", body, ecrHeaders(), sess, "ecr", testRegion, signTime))
	_, err = newVerifier(creds, signTime).Verify(c.r, c.body)
	wantCode(t, err, CodeExpiredToken, "The security token included in the request is expired")
	cr.Expires = signTime.Add(time.Second)
	creds[sessAKID] = cr
	if _, err := newVerifier(creds, signTime).Verify(c.r, c.body); err != nil {
		t.Fatal(err)
	}
}

// presign presigns a GET to srv with the SDK.
func presign(t testing.TB, srv *server, pathQuery string, hdr http.Header, creds aws.Credentials, at time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", srv.URL+pathQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	uri, signedHdr, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, hashHex(nil), "ecr", testRegion, at)
	if err != nil {
		t.Fatal(err)
	}
	out, err := http.NewRequest("GET", uri, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range signedHdr {
		if k != "Host" {
			out.Header[k] = vs
		}
	}
	return out
}

func TestPresigned(t *testing.T) {
	srv := newServer(t)
	v := newVerifier(testCreds(), signTime)

	c := srv.send(t, presign(t, srv, "/?Action=GetAuthorizationToken&X-Amz-Expires=60&b=%2F%20x", nil, staticCreds, signTime))
	res := verifyBoth(t, v, c, true)
	if !res.Presigned || res.AccessKeyID != testAKID {
		t.Fatalf("result %+v", res)
	}
	for _, d := range []time.Duration{0, 59 * time.Second, 60 * time.Second, -15 * time.Minute} {
		if _, err := newVerifier(testCreds(), signTime.Add(d)).Verify(c.r, c.body); err != nil {
			t.Errorf("at %v: %v", d, err)
		}
	}
	_, err := newVerifier(testCreds(), signTime.Add(61*time.Second)).Verify(c.r, c.body)
	wantCode(t, err, CodeExpiredToken, "Request has expired")
	_, err = newVerifier(testCreds(), signTime.Add(-15*time.Minute-time.Second)).Verify(c.r, c.body)
	wantCode(t, err, CodeInvalidSignature, "Signature not yet current")

	// Without X-Amz-Expires the skew rules apply.
	c2 := srv.send(t, presign(t, srv, "/?Action=x", nil, staticCreds, signTime))
	verifyBoth(t, v, c2, true)
	_, err = newVerifier(testCreds(), signTime.Add(16*time.Minute)).Verify(c2.r, c2.body)
	wantCode(t, err, CodeInvalidSignature, "Signature expired")

	// Extra signed headers and a session token in the query.
	sess := aws.Credentials{AccessKeyID: sessAKID, SecretAccessKey: sessSecret, SessionToken: sessToken}
	c3 := srv.send(t, presign(t, srv, "/?X-Amz-Expires=300", http.Header{"X-Custom": {"v"}}, sess, signTime))
	if c3.r.URL.Query().Get("X-Amz-Security-Token") != sessToken {
		t.Fatal("token not in query")
	}
	res = verifyBoth(t, v, c3, true)
	if !res.Temporary || len(res.SignedHeaders) != 2 {
		t.Fatalf("result %+v", res)
	}

	tamper := func(name string, c captured, f func(q url.Values), code, msg string) {
		t.Run(name, func(t *testing.T) {
			r := c.r.Clone(context.Background())
			q := r.URL.Query()
			f(q)
			r.URL.RawQuery = q.Encode()
			for _, noSDK := range []bool{false, true} {
				vv := *v
				vv.noSDK = noSDK
				_, err := vv.Verify(r, c.body)
				wantCode(t, err, code, msg)
			}
		})
	}
	tamper("param value", c, func(q url.Values) { q.Set("Action", "DeleteRepository") }, CodeInvalidSignature, msgSignatureMismatch)
	tamper("param added", c, func(q url.Values) { q.Set("z", "1") }, CodeInvalidSignature, msgSignatureMismatch)
	tamper("expires extended", c, func(q url.Values) { q.Set("X-Amz-Expires", "3600") }, CodeInvalidSignature, msgSignatureMismatch)
	tamper("expires too long", c, func(q url.Values) { q.Set("X-Amz-Expires", "604801") }, CodeIncompleteSignature, "X-Amz-Expires must be less than a week")
	tamper("expires negative", c, func(q url.Values) { q.Set("X-Amz-Expires", "-1") }, CodeIncompleteSignature, "X-Amz-Expires must be a non-negative integer")
	tamper("no signature", c, func(q url.Values) { q.Del("X-Amz-Signature") }, CodeIncompleteSignature, "AWS query-string parameters must include")
	tamper("two signatures", c, func(q url.Values) { q.Add("X-Amz-Signature", "00") }, CodeIncompleteSignature, "Query-string parameter 'X-Amz-Signature' appears more than once.")
	tamper("date", c, func(q url.Values) { q.Set("X-Amz-Date", "20261123T123450Z") }, CodeInvalidSignature, msgSignatureMismatch)
	tamper("region", c, func(q url.Values) {
		q.Set("X-Amz-Credential", testAKID+"/20261123/us-east-2/ecr/aws4_request")
	}, CodeInvalidSignature, "Credential should be scoped to a valid region, not 'us-east-2'. ")
	tamper("token", c3, func(q url.Values) { q.Set("X-Amz-Security-Token", "x") }, CodeInvalidSignature, msgSignatureMismatch)
	tamper("token removed", c3, func(q url.Values) { q.Del("X-Amz-Security-Token") }, CodeInvalidSignature, msgSignatureMismatch)
	tamper("signed headers", c3, func(q url.Values) { q.Set("X-Amz-SignedHeaders", "host") }, CodeInvalidSignature, msgSignatureMismatch)
	t.Run("signed header value", func(t *testing.T) {
		r := c3.r.Clone(context.Background())
		r.Header.Set("X-Custom", "w")
		_, err := v.Verify(r, nil)
		wantCode(t, err, CodeInvalidSignature, msgSignatureMismatch)
	})
}

// TestCanonicalFallback covers signed header sets the SDK signer cannot
// reproduce, which go through the package's canonical request.
func TestCanonicalFallback(t *testing.T) {
	v := newVerifier(testCreds(), signTime)
	sign := func(r *http.Request, body []byte) {
		// The SDK signer skips User-Agent and friends only under their
		// canonical keys: a lowercase key makes it sign them, like a
		// client that does.
		if err := v4.NewSigner().SignHTTP(context.Background(), staticCreds, r, hashHex(body), "ecr", testRegion, signTime); err != nil {
			t.Fatal(err)
		}
		for k, vs := range r.Header {
			if lk := strings.ToLower(k); lk == k {
				delete(r.Header, k)
				r.Header[http.CanonicalHeaderKey(k)] = vs
			}
		}
	}
	for _, h := range []string{"user-agent", "x-amzn-trace-id", "expect"} {
		t.Run(h, func(t *testing.T) {
			r := httptest.NewRequest("POST", "http://api.ecr.us-east-1.amazonaws.com/", nil)
			r.Header[h] = []string{"some  value"}
			r.Header.Set("X-Amz-Target", ecrTarget)
			sign(r, []byte(`{}`))
			if !strings.Contains(r.Header.Get("Authorization"), h) {
				t.Fatalf("%s not signed: %s", h, r.Header.Get("Authorization"))
			}
			verifyBoth(t, v, captured{r, []byte(`{}`)}, false)
			r.Header.Set(h, "other")
			_, err := v.Verify(r, []byte(`{}`))
			wantCode(t, err, CodeInvalidSignature, msgSignatureMismatch)
		})
	}

	// A signed header list that is not lowercase and sorted, signed by
	// hand from the canonical request AWS documents.
	r := httptest.NewRequest("POST", "http://api.ecr.us-east-1.amazonaws.com/?b=1&a=2", nil)
	r.Header.Set("X-Amz-Date", "20261123T123456Z")
	r.Header.Set("X-Amz-Target", "  a   b  ")
	r.Header.Set("Content-Length", "0")
	canonical := "POST\n/\na=2&b=1\n" +
		"x-amz-target:a b\nhost:api.ecr.us-east-1.amazonaws.com\ncontent-length:0\nx-amz-date:20261123T123456Z\n\n" +
		"X-Amz-Target;host;content-length;x-amz-date\n" + hashHex(nil)
	sum := sha256.Sum256([]byte(canonical))
	sts := "AWS4-HMAC-SHA256\n20261123T123456Z\n20261123/us-east-1/ecr/aws4_request\n" + hex.EncodeToString(sum[:])
	key := []byte("AWS4" + testSecret)
	for _, s := range []string{"20261123", "us-east-1", "ecr", "aws4_request", sts} {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		key = m.Sum(nil)
	}
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAKID+"/20261123/us-east-1/ecr/aws4_request,SignedHeaders=X-Amz-Target;host;content-length;x-amz-date,Signature="+hex.EncodeToString(key))
	res, err := v.Verify(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.viaSDK || strings.Join(res.SignedHeaders, ";") != "x-amz-target;host;content-length;x-amz-date" {
		t.Fatalf("result %+v", res)
	}
}

func TestPresent(t *testing.T) {
	for _, tc := range []struct {
		url, authz string
		want       bool
	}{
		{"/", "", false},
		{"/", "Basic QVdTOng=", false},
		{"/", "AWS4-HMAC-SHA256 Credential=x", true},
		{"/", "aws4-hmac-sha256", true},
		{"/?X-Amz-Algorithm=AWS4-HMAC-SHA256", "", true},
		{"/?X-Amz-Signature=00", "", true},
		{"/?X-Amz-Date=00", "", false},
	} {
		r := httptest.NewRequest("GET", tc.url, nil)
		if tc.authz != "" {
			r.Header.Set("Authorization", tc.authz)
		}
		if got := Present(r); got != tc.want {
			t.Errorf("Present(%s, %q) = %v", tc.url, tc.authz, got)
		}
	}
}

func TestParseAuthorization(t *testing.T) {
	a, err := ParseAuthorization("AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/ecr/aws4_request,SignedHeaders=host;x-amz-date,  Signature=abc, Extra=1")
	if err != nil {
		t.Fatal(err)
	}
	if a.Credential != "AKID/20261123/us-east-1/ecr/aws4_request" || a.SignedHeaders != "host;x-amz-date" || a.Signature != "abc" {
		t.Fatalf("%+v", a)
	}
	s, err := ParseCredential(a.Credential + "//")
	if err != nil || s != (Scope{"AKID", "20261123", "us-east-1", "ecr", "aws4_request"}) || s.String() != "20261123/us-east-1/ecr/aws4_request" {
		t.Fatalf("%+v %v", s, err)
	}
	for _, bad := range []string{
		"", "Bearer x", "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=a, Credential=b, SignedHeaders=host, Signature=00",
		"AWS4-HMAC-SHA1 Credential=a, SignedHeaders=host, Signature=00",
	} {
		if _, err := ParseAuthorization(bad); err == nil {
			t.Errorf("ParseAuthorization(%q) succeeded", bad)
		}
	}
	for _, bad := range []string{"a/b/c/d", "a/b/c/d/e/f", "", "////"} {
		if _, err := ParseCredential(bad); err == nil {
			t.Errorf("ParseCredential(%q) succeeded", bad)
		}
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/ecr/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e,SignedHeaders=,Signature=")
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/ecr/aws4_request, SignedHeaders=Host;;X-Amz-Date;, Signature=00")
	f.Add("AWS4-X ,,,=,Credential==//,")
	f.Add("aws4-hmac-sha256\tCredential=x")
	f.Add("Basic QVdTOnRva2Vu")
	v := newVerifier(testCreds(), signTime)
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseAuthorization(h)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code == "" || e.Status == 0 {
				t.Fatalf("untyped error %v", err)
			}
		} else if a.Algorithm != Algorithm || a.Credential == "" || a.Signature == "" {
			t.Fatalf("accepted %q as %+v", h, a)
		}
		if err == nil {
			ParseCredential(a.Credential)
			splitSignedHeaders(a.SignedHeaders)
		}
		// The whole header path must not panic either.
		r := httptest.NewRequest("POST", "http://api.ecr.us-east-1.amazonaws.com/", nil)
		r.Header.Set("X-Amz-Date", "20261123T123456Z")
		r.Header["Authorization"] = []string{h}
		if _, err := v.Verify(r, nil); err == nil {
			t.Fatalf("fuzzed header %q verified", h)
		}
	})
}

func benchRequest(b *testing.B) captured {
	srv := newServer(b)
	body := []byte(`{"registryIds":["123456789012"]}`)
	hdr := ecrHeaders()
	hdr.Set("Amz-Sdk-Invocation-Id", "0b8b3a8e-7c49-4b34-9e1d-6d1c9c0c2d3e")
	hdr.Set("Amz-Sdk-Request", "attempt=1; max=3")
	return srv.send(b, sdkRequest(b, srv, "POST", "/", body, hdr, staticCreds, "ecr", testRegion, signTime))
}

// BenchmarkVerify verifies a typical ECR API request (POST /, JSON body,
// the headers aws-sdk-go-v2 signs) through the SDK signer.
func BenchmarkVerify(b *testing.B) {
	c := benchRequest(b)
	v := newVerifier(testCreds(), signTime)
	if res, err := v.Verify(c.r, c.body); err != nil || !res.viaSDK {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(c.r, c.body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCanonical verifies the same request through the
// package's own canonical request.
func BenchmarkVerifyCanonical(b *testing.B) {
	c := benchRequest(b)
	v := newVerifier(testCreds(), signTime)
	v.noSDK = true
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(c.r, c.body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyPresigned(b *testing.B) {
	srv := newServer(b)
	c := srv.send(b, presign(b, srv, "/?Action=GetAuthorizationToken&X-Amz-Expires=60", nil, staticCreds, signTime))
	v := newVerifier(testCreds(), signTime)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(c.r, c.body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyReject measures a request with a bad signature.
func BenchmarkVerifyReject(b *testing.B) {
	c := benchRequest(b)
	c.body = append(c.body, ' ')
	v := newVerifier(testCreds(), signTime)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(c.r, c.body); err == nil {
			b.Fatal("verified")
		}
	}
}
