package awsjson_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
)

const prefix = ecrapi.TargetPrefix

// teapotError is an API error with its own status, as SigV4 errors are.
type teapotError struct{}

func (teapotError) Error() string     { return "short and stout" }
func (teapotError) ErrorCode() string { return "TeapotException" }
func (teapotError) HTTPStatus() int   { return http.StatusTeapot }

// authError is shaped like internal/access/sigv4's Error: Code, Message and
// Status fields, and a Reason for the server's logs that Error() includes
// and the client must never see.
type authError struct {
	Code, Message string
	Status        int
	Reason        string
}

func (e *authError) Error() string     { return e.Code + ": " + e.Message + " (" + e.Reason + ")" }
func (e *authError) ErrorCode() string { return e.Code }
func (e *authError) HTTPStatus() int   { return e.Status }

// bareError has only a code and Error().
type bareError struct{}

func (bareError) Error() string     { return "BareException: plain message" }
func (bareError) ErrorCode() string { return "BareException" }

type principal struct{ name string }

func newTestHandler(t *testing.T, logs *bytes.Buffer) *awsjson.Handler {
	t.Helper()
	h := &awsjson.Handler{
		TargetPrefix:      prefix,
		InternalErrorCode: ecrapi.FaultCode,
		NewRequestID:      func() string { return "req-1" },
	}
	if logs != nil {
		h.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	awsjson.Register(h, "CreateRepository", func(ctx context.Context, in *ecrapi.CreateRepositoryInput) (*ecrapi.CreateRepositoryOutput, error) {
		switch *in.RepositoryName {
		case "exists":
			return nil, ecrapi.NewRepositoryAlreadyExistsException("The repository with name 'exists' already exists")
		case "wrapped":
			return nil, fmt.Errorf("creating: %w", ecrapi.NewLimitExceededException("too many"))
		case "teapot":
			return nil, fmt.Errorf("deep: %w", teapotError{})
		case "internal":
			return nil, errors.New("sqlite: database is locked at /var/lib/wharf/meta.db")
		case "panic":
			panic("boom")
		case "nil":
			return nil, nil
		case "whoami":
			p, _ := awsjson.Principal(ctx).(principal)
			return &ecrapi.CreateRepositoryOutput{Repository: &ecrapi.Repository{
				RepositoryName: awsjson.Ptr(p.name + "/" + awsjson.OperationName(ctx) + "/" + awsjson.RequestID(ctx)),
			}}, nil
		}
		return &ecrapi.CreateRepositoryOutput{Repository: &ecrapi.Repository{
			RepositoryName:     in.RepositoryName,
			ImageTagMutability: awsjson.Ptr(ecrapi.ImageTagMutabilityMutable),
		}}, nil
	})
	awsjson.Register(h, "UploadLayerPart", func(ctx context.Context, in *ecrapi.UploadLayerPartInput) (*ecrapi.UploadLayerPartOutput, error) {
		return nil, &ecrapi.InvalidLayerPartException{
			Message:               awsjson.Ptr("bad part"),
			UploadId:              in.UploadId,
			LastValidByteReceived: awsjson.Ptr(int64(1<<53 + 1)),
		}
	})
	return h
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func do(t *testing.T, h http.Handler, method, target, body string) response {
	t.Helper()
	req := httptest.NewRequest(method, "/", strings.NewReader(body))
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	r := response{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if err := json.Unmarshal(rec.Body.Bytes(), &r.body); err != nil {
		t.Fatalf("response is not a JSON object: %q", r.raw)
	}
	if got := r.header.Get("Content-Type"); got != "application/x-amz-json-1.1" {
		t.Errorf("Content-Type = %q", got)
	}
	if r.header.Get("x-amzn-RequestId") == "" {
		t.Error("no x-amzn-RequestId")
	}
	return r
}

func wantError(t *testing.T, r response, status int, code, msgPart string) {
	t.Helper()
	if r.status != status || r.body["__type"] != code || r.header.Get("x-amzn-ErrorType") != code {
		t.Errorf("got %d %s (x-amzn-ErrorType %q); want %d %s", r.status, r.raw, r.header.Get("x-amzn-ErrorType"), status, code)
	}
	if msg, _ := r.body["message"].(string); !strings.Contains(msg, msgPart) {
		t.Errorf("message %q does not contain %q", msg, msgPart)
	}
}

func TestSuccess(t *testing.T) {
	h := newTestHandler(t, nil)
	r := do(t, h, "POST", prefix+".CreateRepository", `{"repositoryName":"team/app","unknownMember":[1,2]}`)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	if r.raw != `{"repository":{"repositoryName":"team/app","imageTagMutability":"MUTABLE"}}` {
		t.Errorf("body %s", r.raw)
	}
	if r.header.Get("x-amzn-RequestId") != "req-1" {
		t.Errorf("request id %q", r.header.Get("x-amzn-RequestId"))
	}
	// A nil output is {}.
	if r := do(t, h, "POST", prefix+".CreateRepository", `{"repositoryName":"nil"}`); r.status != 200 || r.raw != "{}" {
		t.Errorf("nil output: %d %s", r.status, r.raw)
	}
}

func TestDefaultRequestIDs(t *testing.T) {
	h := &awsjson.Handler{TargetPrefix: prefix}
	a := do(t, h, "POST", prefix+".X", "{}").header.Get("x-amzn-RequestId")
	b := do(t, h, "POST", prefix+".X", "{}").header.Get("x-amzn-RequestId")
	if len(a) != 36 || a == b || a[14] != '4' {
		t.Errorf("request ids %q %q", a, b)
	}
}

func TestUnknownOperation(t *testing.T) {
	h := newTestHandler(t, nil)
	for _, target := range []string{
		prefix + ".DeleteEverything", "", prefix, "OtherService_V1.CreateRepository",
		prefix + ".createRepository", prefix + ".CreateRepository.x",
	} {
		r := do(t, h, "POST", target, `{}`)
		wantError(t, r, 400, "UnknownOperationException", "Unknown operation")
	}
}

func TestWrongMethod(t *testing.T) {
	h := newTestHandler(t, nil)
	for _, m := range []string{"GET", "PUT", "DELETE"} {
		r := do(t, h, m, prefix+".CreateRepository", `{"repositoryName":"a"}`)
		wantError(t, r, 405, "UnknownOperationException", m)
		if r.header.Get("Allow") != "POST" {
			t.Errorf("Allow = %q", r.header.Get("Allow"))
		}
	}
}

func TestSerializationErrors(t *testing.T) {
	h := newTestHandler(t, nil)
	for body, msg := range map[string]string{
		`{"repositoryName":`:                                                       "Malformed JSON",
		`{"repositoryName":"a"} trailing`:                                          "Malformed JSON",
		`{"repositoryName": 5}`:                                                    "for member 'repositoryName'; expected a string",
		`{"repositoryName":"a","tags":{"Key":"k"}}`:                                "member 'tags'; expected a list",
		`{"repositoryName":"a","tags":[{"Key":1}]}`:                                "member 'tags.Key'; expected a string",
		`{"repositoryName":"a","imageScanningConfiguration":{"scanOnPush":"yes"}}`: "expected a boolean",
		`[1,2]`:     "must be a JSON object",
		`"string"`:  "must be a JSON object",
		"\xff\xfe{": "must be a JSON object",
	} {
		r := do(t, h, "POST", prefix+".CreateRepository", body)
		wantError(t, r, 400, "SerializationException", msg)
	}
	for body, msg := range map[string]string{
		`{"repositoryName":"a","uploadId":"u","partFirstByte":1.5}`:        "expected an integer",
		`{"repositoryName":"a","uploadId":"u","partFirstByte":1e100}`:      "expected an integer",
		`{"repositoryName":"a","uploadId":"u","layerPartBlob":"!!notb64"}`: "Invalid base64",
	} {
		r := do(t, h, "POST", prefix+".UploadLayerPart", body)
		wantError(t, r, 400, "SerializationException", msg)
	}
}

func TestEmptyBodyIsEmptyObject(t *testing.T) {
	h := newTestHandler(t, nil)
	for _, body := range []string{"", "  \n", "null", "{}"} {
		r := do(t, h, "POST", prefix+".CreateRepository", body)
		// Decoded as {} and therefore missing its required member.
		wantError(t, r, 400, "ValidationException",
			"1 validation error detected: Value null at 'repositoryName' failed to satisfy constraint: Member must not be null")
	}
}

func TestValidationError(t *testing.T) {
	h := newTestHandler(t, nil)
	r := do(t, h, "POST", prefix+".CreateRepository", `{"repositoryName":"Bad Name","imageTagMutability":"SOMETIMES"}`)
	wantError(t, r, 400, "ValidationException", "2 validation errors detected: ")
	msg := r.body["message"].(string)
	for _, part := range []string{
		"Value 'Bad Name' at 'repositoryName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-z0-9]+",
		"Value 'SOMETIMES' at 'imageTagMutability' failed to satisfy constraint: Member must satisfy enum value set: [MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]",
	} {
		if !strings.Contains(msg, part) {
			t.Errorf("message %q lacks %q", msg, part)
		}
	}
	if len(r.body) != 2 {
		t.Errorf("body has extra members: %s", r.raw)
	}
}

func TestAPIErrors(t *testing.T) {
	var logs bytes.Buffer
	h := newTestHandler(t, &logs)
	r := do(t, h, "POST", prefix+".CreateRepository", `{"repositoryName":"exists"}`)
	wantError(t, r, 400, "RepositoryAlreadyExistsException", "The repository with name 'exists' already exists")
	if r.raw != `{"__type":"RepositoryAlreadyExistsException","message":"The repository with name 'exists' already exists"}` {
		t.Errorf("body %s", r.raw)
	}

	r = do(t, h, "POST", prefix+".CreateRepository", `{"repositoryName":"wrapped"}`)
	wantError(t, r, 400, "LimitExceededException", "too many")

	// Any error with ErrorCode and HTTPStatus, wrapped or not.
	r = do(t, h, "POST", prefix+".CreateRepository", `{"repositoryName":"teapot"}`)
	wantError(t, r, http.StatusTeapot, "TeapotException", "short and stout")

	// Extra members of an error shape are in the body (and longs stay exact).
	r = do(t, h, "POST", prefix+".UploadLayerPart",
		`{"repositoryName":"ab","uploadId":"0d3e4f5a-0000-4000-8000-000000000000","partFirstByte":0,"partLastByte":1,"layerPartBlob":"AA=="}`)
	wantError(t, r, 400, "InvalidLayerPartException", "bad part")
	if !strings.Contains(r.raw, `"lastValidByteReceived":9007199254740993`) || !strings.Contains(r.raw, `"uploadId":"0d3e4f5a-`) {
		t.Errorf("body %s", r.raw)
	}
	if logs.Len() != 0 {
		t.Errorf("client errors were logged: %s", logs.String())
	}
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	var logs bytes.Buffer
	h := newTestHandler(t, &logs)
	r := do(t, h, "POST", prefix+".CreateRepository", `{"repositoryName":"internal"}`)
	wantError(t, r, 500, "ServerException", "internal error")
	if strings.Contains(r.raw, "sqlite") || strings.Contains(r.raw, "/var/lib") {
		t.Errorf("internal detail leaked: %s", r.raw)
	}
	if !strings.Contains(logs.String(), "database is locked") || !strings.Contains(logs.String(), "req-1") {
		t.Errorf("internal error not logged: %s", logs.String())
	}

	logs.Reset()
	r = do(t, h, "POST", prefix+".CreateRepository", `{"repositoryName":"panic"}`)
	wantError(t, r, 500, "ServerException", "internal error")
	if strings.Contains(r.raw, "boom") || !strings.Contains(logs.String(), "boom") {
		t.Errorf("panic: body %s, logs %s", r.raw, logs.String())
	}

	// The default internal error code.
	h2 := &awsjson.Handler{TargetPrefix: "P", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	h2.Handle("Op", awsjson.Op{NewInput: func() any { return new(struct{}) },
		Func: func(context.Context, any) (any, error) { return nil, errors.New("x") }})
	wantError(t, do(t, h2, "POST", "P.Op", ""), 500, "InternalFailure", "")
}

func TestBodyLimit(t *testing.T) {
	h := newTestHandler(t, nil)
	h.MaxBodyBytes = 1 << 10
	big := `{"repositoryName":"` + strings.Repeat("a", 2<<10) + `"}`
	r := do(t, h, "POST", prefix+".CreateRepository", big)
	wantError(t, r, 413, "SerializationException", "exceeds")

	// Without a Content-Length (chunked), the reader enforces it.
	req := httptest.NewRequest("POST", "/", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("X-Amz-Target", prefix+".CreateRepository")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 413 {
		t.Errorf("chunked: %d %s", rec.Code, rec.Body)
	}

	// An operation's own limit wins over the handler's.
	op := h.Ops["CreateRepository"]
	op.MaxBodyBytes = 4 << 10
	h.Ops["CreateRepository"] = op
	if r := do(t, h, "POST", prefix+".CreateRepository", big); r.status != 400 || r.body["__type"] != "ValidationException" {
		t.Errorf("op limit: %d %s", r.status, r.raw)
	}
}

func TestAuthenticate(t *testing.T) {
	h := newTestHandler(t, nil)
	var gotBody string
	h.Authenticate = func(r *http.Request, body []byte) (any, error) {
		gotBody = string(body)
		switch r.Header.Get("Authorization") {
		case "good":
			return principal{"alice"}, nil
		case "forged":
			return nil, fmt.Errorf("verify: %w", &authError{Code: "InvalidSignatureException", Status: 403,
				Message: "The request signature we calculated does not match", Reason: "canonical request: POST / SECRET-DETAIL"})
		case "bare":
			return nil, bareError{}
		case "":
			return nil, &awsjson.Error{Code: "MissingAuthenticationTokenException", Status: 403, Message: "Missing Authentication Token"}
		}
		return nil, teapotError{}
	}
	req := func(auth, target string) response {
		rq := httptest.NewRequest("POST", "/", strings.NewReader(`{"repositoryName":"whoami"}`))
		rq.Header.Set("X-Amz-Target", target)
		if auth != "" {
			rq.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, rq)
		var r response
		r.status, r.header, r.raw = rec.Code, rec.Header(), rec.Body.String()
		json.Unmarshal(rec.Body.Bytes(), &r.body)
		return r
	}
	r := req("good", prefix+".CreateRepository")
	if r.status != 200 || !strings.Contains(r.raw, `"repositoryName":"alice/CreateRepository/req-1"`) {
		t.Errorf("authenticated: %d %s", r.status, r.raw)
	}
	if gotBody != `{"repositoryName":"whoami"}` {
		t.Errorf("Authenticate saw body %q", gotBody)
	}
	wantError(t, req("", prefix+".CreateRepository"), 403, "MissingAuthenticationTokenException", "Missing")
	wantError(t, req("bad", prefix+".CreateRepository"), http.StatusTeapot, "TeapotException", "")
	r = req("forged", prefix+".CreateRepository")
	if r.raw != `{"__type":"InvalidSignatureException","message":"The request signature we calculated does not match"}` || r.status != 403 {
		t.Errorf("SigV4-style error: %d %s", r.status, r.raw)
	}
	r = req("bare", prefix+".CreateRepository")
	if r.raw != `{"__type":"BareException","message":"plain message"}` || r.status != 400 {
		t.Errorf("bare error: %d %s", r.status, r.raw)
	}
	// Authentication comes before the operation is resolved.
	wantError(t, req("", prefix+".NoSuchOp"), 403, "MissingAuthenticationTokenException", "")
}

func TestPrincipalContext(t *testing.T) {
	ctx := awsjson.WithPrincipal(context.Background(), "p")
	if awsjson.Principal(ctx) != "p" || awsjson.Principal(context.Background()) != nil {
		t.Error("principal round trip")
	}
	if awsjson.RequestID(context.Background()) != "" || awsjson.HTTPRequest(context.Background()) != nil {
		t.Error("empty context")
	}
}

func TestTimestampInput(t *testing.T) {
	type in struct {
		At *awsjson.Timestamp `json:"at"`
	}
	type out struct {
		At *awsjson.Timestamp `json:"at,omitzero"`
	}
	h := &awsjson.Handler{TargetPrefix: "P"}
	awsjson.Register(h, "Echo", func(_ context.Context, i *in) (*out, error) { return &out{At: i.At}, nil })
	if r := do(t, h, "POST", "P.Echo", `{"at":1.7000000005E9}`); r.status != 200 || r.raw != `{"at":1700000000.5}` {
		t.Errorf("echo: %d %s", r.status, r.raw)
	}
	if r := do(t, h, "POST", "P.Echo", `{"at":"1700000000.5"}`); r.status != 200 || r.raw != `{"at":1700000000.5}` {
		t.Errorf("string number: %d %s", r.status, r.raw)
	}
	wantError(t, do(t, h, "POST", "P.Echo", `{"at":"yesterday"}`), 400, "SerializationException", "Invalid timestamp")
}
