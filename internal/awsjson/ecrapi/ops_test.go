package ecrapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
)

func TestOperationTable(t *testing.T) {
	if len(ecrapi.Operations) != 58 || len(ecrapi.OperationNames) != 58 {
		t.Fatalf("%d operations, %d names; ECR has 58", len(ecrapi.Operations), len(ecrapi.OperationNames))
	}
	if !slices.IsSorted(ecrapi.OperationNames) {
		t.Error("OperationNames not sorted")
	}
	for _, name := range ecrapi.OperationNames {
		op, ok := ecrapi.Operations[name]
		if !ok || op.Name != name {
			t.Fatalf("%s: missing or misnamed (%q)", name, op.Name)
		}
		in, out := reflect.TypeOf(op.NewInput()), reflect.TypeOf(op.NewOutput())
		if in.Elem().Name() != name+"Input" || out.Elem().Name() != name+"Output" {
			t.Errorf("%s: types %v %v", name, in, out)
		}
		if op.InputShape != name+"Request" || op.OutputShape != name+"Response" {
			t.Errorf("%s: shapes %s %s", name, op.InputShape, op.OutputShape)
		}
		for _, e := range op.Errors {
			err := ecrapi.NewError(e, "m")
			var ae awsjson.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != e {
				t.Errorf("%s: error %s has no type (%v)", name, e, err)
			}
		}
	}
	di := ecrapi.Operations["DescribeImages"].Pagination
	if di == nil || di.InputToken != "nextToken" || di.OutputToken != "nextToken" || di.LimitKey != "maxResults" ||
		!slices.Equal(di.ResultKeys, []string{"imageDetails"}) {
		t.Errorf("DescribeImages pagination %+v", di)
	}
	f := ecrapi.Operations["DescribeImageScanFindings"].Pagination
	if f == nil || !slices.Equal(f.ResultKeys, []string{"imageScanFindings.findings", "imageScanFindings.enhancedFindings"}) || len(f.NonAggregateKeys) != 5 {
		t.Errorf("DescribeImageScanFindings pagination %+v", f)
	}
	if ecrapi.Operations["CreateRepository"].Pagination != nil {
		t.Error("CreateRepository paginated")
	}
	// UploadLayerPart carries up to 20 MiB of blob, base64-encoded.
	if n := ecrapi.Operations["UploadLayerPart"].MaxRequestBytes; n < 20<<20*4/3 || n > 30<<20 {
		t.Errorf("UploadLayerPart MaxRequestBytes %d", n)
	}
	if !slices.Contains(ecrapi.Operations["CreateRepository"].Errors, "RepositoryAlreadyExistsException") {
		t.Error("CreateRepository errors")
	}
}

func TestErrorTypes(t *testing.T) {
	var err error = ecrapi.NewRepositoryNotFoundException("The repository with name 'x' does not exist")
	var rnf *ecrapi.RepositoryNotFoundException
	if !errors.As(err, &rnf) || rnf.ErrorCode() != "RepositoryNotFoundException" || rnf.HTTPStatus() != 400 ||
		err.Error() != "RepositoryNotFoundException: The repository with name 'x' does not exist" {
		t.Errorf("%v", err)
	}
	if s := ecrapi.NewServerException("x"); s.HTTPStatus() != 500 || s.ErrorCode() != ecrapi.FaultCode {
		t.Errorf("ServerException: %d %s", s.HTTPStatus(), s.ErrorCode())
	}
	if (&ecrapi.ImageNotFoundException{}).Error() != "ImageNotFoundException" {
		t.Error("message-less Error()")
	}
	if ecrapi.NewError("NoSuchException", "x") != nil {
		t.Error("NewError of an unknown code")
	}
	if got := ecrapi.ImageTagMutability("").Values(); len(got) != 4 || got[0] != ecrapi.ImageTagMutabilityMutable {
		t.Errorf("Values %v", got)
	}
	if ecrapi.UpstreamRegistryEcrPublic != "ecr-public" || ecrapi.EncryptionTypeAes256 != "AES256" || ecrapi.ImageFailureCodeInvalidImageDigest != "InvalidImageDigest" {
		t.Error("enum constant names")
	}
}

// partial implements two operations.
type partial struct{}

func (partial) DescribeRepositories(ctx context.Context, in *ecrapi.DescribeRepositoriesInput) (*ecrapi.DescribeRepositoriesOutput, error) {
	return &ecrapi.DescribeRepositoriesOutput{Repositories: []ecrapi.Repository{}}, nil
}

func (partial) DeleteRepository(ctx context.Context, in *ecrapi.DeleteRepositoryInput) (*ecrapi.DeleteRepositoryOutput, error) {
	return nil, ecrapi.NewRepositoryNotFoundException("no " + *in.RepositoryName)
}

// The compiler checks partial against the per-operation interfaces.
var (
	_ ecrapi.DescribeRepositoriesAPI = partial{}
	_ ecrapi.DeleteRepositoryAPI     = partial{}
)

func TestRegister(t *testing.T) {
	h := &awsjson.Handler{TargetPrefix: ecrapi.TargetPrefix}
	got := ecrapi.Register(h, partial{})
	if !slices.Equal(got, []string{"DeleteRepository", "DescribeRepositories"}) {
		t.Errorf("implemented %v", got)
	}
	if len(h.Ops) != 58 {
		t.Errorf("%d ops registered", len(h.Ops))
	}
	if h.Ops["UploadLayerPart"].MaxBodyBytes == 0 {
		t.Error("UploadLayerPart body limit not applied")
	}
	call := func(op, body string) (int, map[string]any) {
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("X-Amz-Target", ecrapi.TargetPrefix+"."+op)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var m map[string]any
		json.Unmarshal(rec.Body.Bytes(), &m)
		return rec.Code, m
	}
	if code, m := call("DescribeRepositories", "{}"); code != 200 || len(m["repositories"].([]any)) != 0 {
		t.Errorf("DescribeRepositories: %d %v", code, m)
	}
	if code, m := call("DeleteRepository", `{"repositoryName":"gone"}`); code != 400 || m["__type"] != "RepositoryNotFoundException" || m["message"] != "no gone" {
		t.Errorf("DeleteRepository: %d %v", code, m)
	}
	if code, m := call("CreateRepository", `{"repositoryName":"new"}`); code != http.StatusNotImplemented || m["__type"] != "NotImplemented" {
		t.Errorf("CreateRepository: %d %v", code, m)
	}
	// Validation runs before the not-implemented answer, like AWS's frontend.
	if code, m := call("CreateRepository", `{}`); code != 400 || m["__type"] != "ValidationException" {
		t.Errorf("CreateRepository {}: %d %v", code, m)
	}
	if h := ecrapi.NewHandler(partial{}); h.TargetPrefix != ecrapi.TargetPrefix || h.InternalErrorCode != "ServerException" {
		t.Errorf("NewHandler %+v", h)
	}
}
