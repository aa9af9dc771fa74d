package awsjson_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
)

// echo is a server of a few operations that answers every valid input.
type echo struct{}

func (echo) CreateRepository(_ context.Context, in *ecrapi.CreateRepositoryInput) (*ecrapi.CreateRepositoryOutput, error) {
	return &ecrapi.CreateRepositoryOutput{Repository: &ecrapi.Repository{RepositoryName: in.RepositoryName}}, nil
}

func (echo) DescribeImages(_ context.Context, in *ecrapi.DescribeImagesInput) (*ecrapi.DescribeImagesOutput, error) {
	out := &ecrapi.DescribeImagesOutput{ImageDetails: []ecrapi.ImageDetail{}}
	for _, id := range in.ImageIds {
		out.ImageDetails = append(out.ImageDetails, ecrapi.ImageDetail{ImageDigest: id.ImageDigest, ImageTags: []string{awsjson.Deref(id.ImageTag)}})
	}
	return out, nil
}

func (echo) UploadLayerPart(_ context.Context, in *ecrapi.UploadLayerPartInput) (*ecrapi.UploadLayerPartOutput, error) {
	return &ecrapi.UploadLayerPartOutput{UploadId: in.UploadId, LastByteReceived: awsjson.Ptr(int64(len(in.LayerPartBlob)))}, nil
}

func (echo) BatchDeleteImage(_ context.Context, in *ecrapi.BatchDeleteImageInput) (*ecrapi.BatchDeleteImageOutput, error) {
	return &ecrapi.BatchDeleteImageOutput{ImageIds: in.ImageIds}, nil
}

func (echo) PutLifecyclePolicy(_ context.Context, in *ecrapi.PutLifecyclePolicyInput) (*ecrapi.PutLifecyclePolicyOutput, error) {
	return &ecrapi.PutLifecyclePolicyOutput{RepositoryName: in.RepositoryName}, nil
}

func FuzzDecodeRequest(f *testing.F) {
	h := ecrapi.NewHandler(echo{})
	h.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	ops := []string{"CreateRepository", "DescribeImages", "UploadLayerPart", "BatchDeleteImage", "PutLifecyclePolicy"}
	for i, seed := range []string{
		`{"repositoryName":"team/app","imageTagMutability":"IMMUTABLE","tags":[{"Key":"k","Value":"v"}]}`,
		`{"repositoryName":"app","imageIds":[{"imageTag":"latest"},{"imageDigest":"sha256:00"}],"maxResults":1000,"filter":{"tagStatus":"ANY"}}`,
		`{"repositoryName":"app","uploadId":"0d3e4f5a-0000-4000-8000-000000000000","partFirstByte":0,"partLastByte":3,"layerPartBlob":"AAECAw=="}`,
		`{"repositoryName":"app","imageIds":[]}`,
		`{"repositoryName":"app","lifecyclePolicyText":"{\"rules\":[]}"}`,
		`{"repositoryName":null,"imageIds":[null,{}],"maxResults":-1}`,
		`{"a":{"b":{"c":[[[[]]]]}}}`,
		``, `null`, `[]`, `{`, `{"repositoryName":"\ud800"}`, "{\"repositoryName\":\"\xff\"}",
		`{"partFirstByte":1e99}`, `{"layerPartBlob":"===="}`,
	} {
		f.Add(uint8(i), seed)
	}
	f.Fuzz(func(t *testing.T, op uint8, body string) {
		name := ops[int(op)%len(ops)]
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("X-Amz-Target", ecrapi.TargetPrefix+"."+name)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req) // must not panic
		if rec.Code >= 500 {
			t.Fatalf("%s %q: %d %s", name, body, rec.Code, rec.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %q: response is not JSON: %q", name, body, rec.Body)
		}
		if rec.Code != 200 {
			switch out["__type"] {
			case "SerializationException", "ValidationException":
			default:
				t.Fatalf("%s %q: unexpected error %s", name, body, rec.Body)
			}
		}
	})
}
