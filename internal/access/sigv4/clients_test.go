package sigv4

// Requests signed by real clients: botocore (the signer of the AWS CLI v1
// and boto3), the AWS CLI v1 and boto3 end to end, and aws-sdk-go-v2's ECR
// client end to end.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go"
)

func needPython(t *testing.T, module string) {
	t.Helper()
	if err := exec.Command("python3", "-c", "import "+module).Run(); err != nil {
		t.Skipf("skipping: python3 -c 'import %s' failed (%v); install python3 with %s to run this test", module, err, module)
	}
}

// botocoreSign signs the requests of spec with botocore's SigV4Auth (or
// SigV4QueryAuth when "expires" is set) at a fixed time and prints them.
const botocoreSign = `
import base64, datetime, json, sys
import botocore.auth
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

spec = json.load(sys.stdin)
t = datetime.datetime.strptime(spec["time"], "%Y%m%dT%H%M%SZ")
botocore.auth.get_current_datetime = lambda *a, **k: t
out = []
for c in spec["cases"]:
    creds = Credentials(c["akid"], c["secret"], c.get("token"))
    req = AWSRequest(method=c["method"], url=c["url"], data=base64.b64decode(c.get("body", "")),
                     headers=c.get("headers") or {})
    if c.get("expires"):
        signer = SigV4QueryAuth(creds, c["service"], c["region"], expires=c["expires"])
    else:
        signer = SigV4Auth(creds, c["service"], c["region"])
    signer.add_auth(req)
    p = req.prepare()
    body = p.body or b""
    if isinstance(body, str):
        body = body.encode()
    out.append({"method": p.method, "url": p.url,
                "headers": [[k, v] for k, v in p.headers.items()],
                "body": base64.b64encode(body).decode()})
json.dump(out, sys.stdout)
`

type pyCase struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	AKID    string            `json:"akid"`
	Secret  string            `json:"secret"`
	Token   string            `json:"token,omitempty"`
	Service string            `json:"service"`
	Region  string            `json:"region"`
	Expires int               `json:"expires,omitempty"`
}

type pySigned struct {
	Method  string      `json:"method"`
	URL     string      `json:"url"`
	Headers [][2]string `json:"headers"`
	Body    string      `json:"body"`
}

func runPython(t *testing.T, script string, in any, out any, env ...string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "script.py")
	if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	stdin, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", file)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = append(awsFreeEnv(t), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		t.Fatalf("python3 output %q: %v", stdout, err)
	}
}

// awsFreeEnv is the environment without AWS settings, with config files
// pointed away from the user's.
func awsFreeEnv(t *testing.T) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	dir := t.TempDir()
	return append(env,
		"AWS_CONFIG_FILE="+filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_MAX_ATTEMPTS=1",
		"AWS_RETRY_MODE=standard",
	)
}

func TestBotocoreSigned(t *testing.T) {
	needPython(t, "botocore")
	srv := newServer(t)
	b64 := base64.StdEncoding.EncodeToString
	ecrJSON := map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": ecrTarget}
	static := pyCase{AKID: testAKID, Secret: testSecret, Service: "ecr", Region: testRegion}
	sess := pyCase{AKID: sessAKID, Secret: sessSecret, Token: sessToken, Service: "ecr", Region: testRegion}
	with := func(base pyCase, method, path string, hdr map[string]string, body string, expires int) pyCase {
		base.Method, base.URL, base.Headers, base.Body, base.Expires = method, srv.URL+path, hdr, b64([]byte(body)), expires
		return base
	}
	cases := []struct {
		name    string
		c       pyCase
		wantSDK bool
	}{
		{"ecr json", with(static, "POST", "/", ecrJSON, `{"registryIds":["123456789012"]}`, 0), true},
		{"ecr empty json", with(static, "POST", "/", ecrJSON, `{}`, 0), true},
		{"session token", with(sess, "POST", "/", ecrJSON, `{}`, 0), true},
		{"unicode path and query", with(static, "GET", "/%C3%BCn%C3%AF/c%C3%B6d%C3%A9%20x?b=2&a=1&a=0&c=%20x&d=a%2Fb", nil, "", 0), true},
		{"whitespace and case", with(static, "POST", "/", map[string]string{
			"X-AMZ-Target": "  a   b  ", "x-custom-LOWER": "y", "Content-Type": "application/x-amz-json-1.1",
		}, `{"a":"ü"}`, 0), true},
		{"date header", with(static, "POST", "/", map[string]string{"Date": "x", "X-Amz-Target": ecrTarget}, `{}`, 0), false},
		{"content-length zero", with(static, "POST", "/", map[string]string{"Content-Length": "0", "X-Amz-Target": ecrTarget}, "", 0), false},
		{"presigned", with(static, "GET", "/?Action=GetAuthorizationToken&Version=2015-09-21", nil, "", 300), true},
		{"presigned session", with(sess, "GET", "/?Action=GetAuthorizationToken", nil, "", 60), true},
	}
	in := map[string]any{"time": signTime.Format(timeFormat), "cases": []pyCase{}}
	for _, c := range cases {
		in["cases"] = append(in["cases"].([]pyCase), c.c)
	}
	var out []pySigned
	runPython(t, botocoreSign, in, &out)
	if len(out) != len(cases) {
		t.Fatalf("%d signed requests for %d cases", len(out), len(cases))
	}
	v := newVerifier(testCreds(), signTime)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := out[i]
			body, err := base64.StdEncoding.DecodeString(s.Body)
			if err != nil {
				t.Fatal(err)
			}
			req, err := http.NewRequest(s.Method, s.URL, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range s.Headers {
				if k := http.CanonicalHeaderKey(h[0]); k != "Host" && k != "Content-Length" {
					req.Header.Add(h[0], h[1])
				}
			}
			c := srv.send(t, req)
			res := verifyBoth(t, v, c, tc.wantSDK)
			if res.Presigned != (tc.c.Expires > 0) || res.Temporary != (tc.c.Token != "") {
				t.Fatalf("result %+v", res)
			}
			// And a tampered copy fails.
			c.body = append(c.body, ' ')
			_, err = v.Verify(c.r, c.body)
			wantCode(t, err, CodeInvalidSignature, msgSignatureMismatch)
		})
	}
}

// apiServer is a stand-in for the ECR API: it verifies every request and
// answers "{}" or an AWS JSON 1.1 error.
type apiServer struct {
	*httptest.Server
	mu      sync.Mutex
	results []Result
	errs    []error
}

func newAPIServer(t *testing.T) *apiServer {
	s := &apiServer{}
	v := &Verifier{
		Region: testRegion,
		Lookup: func(_ context.Context, id string) (Credential, error) {
			c, ok := testCreds()[id]
			if !ok {
				return Credential{}, ErrUnknownAccessKey
			}
			return c, nil
		},
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		res, err := v.Verify(r, body)
		s.mu.Lock()
		s.results = append(s.results, res)
		s.errs = append(s.errs, err)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		var e *Error
		if errors.As(err, &e) {
			w.Header().Set("X-Amzn-ErrorType", e.Code)
			w.WriteHeader(e.Status)
			json.NewEncoder(w).Encode(map[string]string{"__type": e.Code, "message": e.Message})
			return
		}
		if err != nil {
			w.WriteHeader(500)
			return
		}
		w.Write([]byte("{}"))
	}))
	t.Cleanup(s.Close)
	return s
}

// last returns the outcome of the last request and forgets all.
func (s *apiServer) last(t *testing.T) (Result, error) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) == 0 {
		t.Fatal("no request reached the server")
	}
	res, err := s.results[len(s.results)-1], s.errs[len(s.errs)-1]
	s.results, s.errs = nil, nil
	return res, err
}

func TestAWSCLIv1(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: runs the AWS CLI")
	}
	aws, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("skipping: no aws CLI on PATH")
	}
	if out, err := exec.Command(aws, "--version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "aws-cli/1.") {
		t.Skipf("skipping: not the AWS CLI v1: %s %v", out, err)
	}
	srv := newAPIServer(t)
	run := func(t *testing.T, akid, secret, token, region string, args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(aws, append([]string{"--endpoint-url", srv.URL, "--region", region, "--output", "json"}, args...)...)
		cmd.Env = append(awsFreeEnv(t), "AWS_ACCESS_KEY_ID="+akid, "AWS_SECRET_ACCESS_KEY="+secret)
		if token != "" {
			cmd.Env = append(cmd.Env, "AWS_SESSION_TOKEN="+token)
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	ok := func(t *testing.T, akid, secret, token string, args ...string) Result {
		t.Helper()
		out, err := run(t, akid, secret, token, testRegion, args...)
		if err != nil {
			t.Fatalf("aws %v: %v\n%s", args, err, out)
		}
		res, verr := srv.last(t)
		if verr != nil || !res.viaSDK {
			t.Fatalf("server: %v %+v", verr, res)
		}
		return res
	}
	t.Run("get-authorization-token", func(t *testing.T) {
		res := ok(t, testAKID, testSecret, "", "ecr", "get-authorization-token")
		if res.AccessKeyID != testAKID || !containsFold(res.SignedHeaders, "x-amz-target") {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("describe-repositories", func(t *testing.T) {
		ok(t, testAKID, testSecret, "", "ecr", "describe-repositories", "--repository-names", "team/app", "üñï-cödé")
	})
	t.Run("session token", func(t *testing.T) {
		res := ok(t, sessAKID, sessSecret, sessToken, "ecr", "get-authorization-token")
		if !res.Temporary {
			t.Fatalf("%+v", res)
		}
	})
	for _, tc := range []struct {
		name, akid, secret, token, region, code, msg string
	}{
		{"wrong secret", testAKID, "nope", "", testRegion, CodeInvalidSignature, msgSignatureMismatch},
		{"unknown key", "AKIDUNKNOWN", testSecret, "", testRegion, CodeUnrecognizedClient, "The security token included in the request is invalid."},
		{"wrong region", testAKID, testSecret, "", "eu-west-1", CodeInvalidSignature, "Credential should be scoped to a valid region, not 'eu-west-1'."},
		{"wrong token", sessAKID, sessSecret, "bad", testRegion, CodeUnrecognizedClient, "The security token included in the request is invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(t, tc.akid, tc.secret, tc.token, tc.region, "ecr", "get-authorization-token")
			// "An error occurred (Code) when calling the Op operation[ (reached max retries: 0)]: Message"
			if err == nil || !strings.Contains(out, "An error occurred ("+tc.code+") when calling the GetAuthorizationToken operation") ||
				!strings.Contains(out, "): "+tc.msg) {
				t.Fatalf("aws: %v\n%s\nwant %s: %s", err, out, tc.code, tc.msg)
			}
		})
	}
}

// boto3Calls makes ECR calls with boto3 and prints "ok" or the error code
// of each.
const boto3Calls = `
import json, sys
import boto3, botocore.config, botocore.exceptions
spec = json.load(sys.stdin)
res = []
for c in spec["calls"]:
    cl = boto3.client("ecr", endpoint_url=spec["url"], region_name=c["region"],
                      aws_access_key_id=c["akid"], aws_secret_access_key=c["secret"],
                      aws_session_token=c.get("token") or None,
                      config=botocore.config.Config(retries={"total_max_attempts": 1}))
    try:
        getattr(cl, c["op"])(**c.get("params", {}))
        res.append("ok")
    except botocore.exceptions.ClientError as e:
        res.append(e.response["Error"]["Code"])
json.dump(res, sys.stdout)
`

func TestBoto3(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: runs boto3")
	}
	needPython(t, "boto3")
	srv := newAPIServer(t)
	type call struct {
		Op     string         `json:"op"`
		Params map[string]any `json:"params,omitempty"`
		AKID   string         `json:"akid"`
		Secret string         `json:"secret"`
		Token  string         `json:"token,omitempty"`
		Region string         `json:"region"`
	}
	calls := []call{
		{Op: "get_authorization_token", AKID: testAKID, Secret: testSecret, Region: testRegion},
		{Op: "describe_repositories", Params: map[string]any{"repositoryNames": []string{"team/app", "ünï"}}, AKID: testAKID, Secret: testSecret, Region: testRegion},
		{Op: "batch_check_layer_availability", Params: map[string]any{"repositoryName": "team/app", "layerDigests": []string{"sha256:" + strings.Repeat("a", 64)}}, AKID: sessAKID, Secret: sessSecret, Token: sessToken, Region: testRegion},
		{Op: "get_authorization_token", AKID: testAKID, Secret: "bad", Region: testRegion},
		{Op: "get_authorization_token", AKID: sessAKID, Secret: sessSecret, Token: "bad", Region: testRegion},
		{Op: "get_authorization_token", AKID: testAKID, Secret: testSecret, Region: "ap-south-1"},
	}
	want := []string{"ok", "ok", "ok", CodeInvalidSignature, CodeUnrecognizedClient, CodeInvalidSignature}
	var got []string
	runPython(t, boto3Calls, map[string]any{"url": srv.URL, "calls": calls}, &got)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("boto3 results %v, want %v", got, want)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for i, res := range srv.results[:3] {
		if !res.viaSDK {
			t.Errorf("call %d not verified through the SDK signer: %+v", i, res)
		}
	}
}

// TestSDKv2ECRClient verifies aws-sdk-go-v2's own ECR client end to end.
func TestSDKv2ECRClient(t *testing.T) {
	srv := newAPIServer(t)
	client := func(creds aws.Credentials, region string) *ecr.Client {
		return ecr.New(ecr.Options{
			Region:           region,
			BaseEndpoint:     aws.String(srv.URL),
			Credentials:      aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
			RetryMaxAttempts: 1,
		})
	}
	ctx := context.Background()
	sess := aws.Credentials{AccessKeyID: sessAKID, SecretAccessKey: sessSecret, SessionToken: sessToken}

	if _, err := client(staticCreds, testRegion).GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{}); err != nil {
		t.Fatal(err)
	}
	res, err := srv.last(t)
	if err != nil || !res.viaSDK || res.AccessKeyID != testAKID {
		t.Fatalf("%v %+v", err, res)
	}
	t.Logf("aws-sdk-go-v2 ECR client signs %v", res.SignedHeaders)

	_, err = client(sess, testRegion).DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"team/app"}})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := srv.last(t); err != nil || !res.viaSDK || !res.Temporary {
		t.Fatalf("%v %+v", err, res)
	}

	for _, tc := range []struct {
		name   string
		creds  aws.Credentials
		region string
		code   string
	}{
		{"wrong secret", aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: "x"}, testRegion, CodeInvalidSignature},
		{"wrong token", aws.Credentials{AccessKeyID: sessAKID, SecretAccessKey: sessSecret, SessionToken: "x"}, testRegion, CodeUnrecognizedClient},
		{"unknown key", aws.Credentials{AccessKeyID: "AKIDNOPE", SecretAccessKey: "x"}, testRegion, CodeUnrecognizedClient},
		{"wrong region", staticCreds, "eu-central-1", CodeInvalidSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client(tc.creds, tc.region).GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tc.code {
				t.Fatalf("err %v, want %s", err, tc.code)
			}
		})
	}
}
