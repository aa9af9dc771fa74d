package ecrapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"

	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
)

var created = time.Date(2024, 5, 6, 7, 8, 9, 250_000_000, time.UTC)

// stub echoes requests, as the ECR server's handlers will answer them.
type stub struct {
	pages awsjson.Paginator
	parts [][]byte
}

func (s *stub) CreateRepository(ctx context.Context, in *ecrapi.CreateRepositoryInput) (*ecrapi.CreateRepositoryOutput, error) {
	if *in.RepositoryName == "exists" {
		return nil, ecrapi.NewRepositoryAlreadyExistsException(
			"The repository with name 'exists' already exists in the registry with id '123456789012'")
	}
	principal, _ := awsjson.Principal(ctx).(string)
	mut := ecrapi.ImageTagMutabilityMutable
	if in.ImageTagMutability != nil {
		mut = *in.ImageTagMutability
	}
	return &ecrapi.CreateRepositoryOutput{Repository: &ecrapi.Repository{
		RegistryId:                 ecrapi.Ptr("123456789012"),
		RepositoryName:             in.RepositoryName,
		RepositoryArn:              ecrapi.Ptr("arn:aws:ecr:us-east-1:123456789012:repository/" + *in.RepositoryName),
		RepositoryUri:              ecrapi.Ptr(principal),
		CreatedAt:                  awsjson.NewTimestamp(created),
		ImageTagMutability:         &mut,
		ImageScanningConfiguration: &ecrapi.ImageScanningConfiguration{ScanOnPush: ecrapi.Ptr(false)},
	}}, nil
}

type pageState struct {
	Repo string `json:"r"`
	Next int    `json:"n"`
}

// DescribeImages pages through 5 images, maxResults at a time.
func (s *stub) DescribeImages(ctx context.Context, in *ecrapi.DescribeImagesInput) (*ecrapi.DescribeImagesOutput, error) {
	st := pageState{Repo: *in.RepositoryName}
	if in.NextToken != nil {
		if err := s.pages.Decode(*in.NextToken, &st); err != nil || st.Repo != *in.RepositoryName {
			return nil, awsjson.ErrInvalidNextToken
		}
	}
	n := int(ecrapi.Deref(in.MaxResults))
	if n == 0 {
		n = 100
	}
	out := &ecrapi.DescribeImagesOutput{ImageDetails: []ecrapi.ImageDetail{}}
	for ; st.Next < 5 && len(out.ImageDetails) < n; st.Next++ {
		out.ImageDetails = append(out.ImageDetails, ecrapi.ImageDetail{
			ImageDigest:   ecrapi.Ptr("sha256:" + strings.Repeat(string(rune('a'+st.Next)), 64)),
			ImagePushedAt: awsjson.NewTimestamp(created.Add(time.Duration(st.Next) * time.Hour)),
		})
	}
	if st.Next < 5 {
		out.NextToken = ecrapi.Ptr(s.pages.Encode(st))
	}
	return out, nil
}

func (s *stub) UploadLayerPart(ctx context.Context, in *ecrapi.UploadLayerPartInput) (*ecrapi.UploadLayerPartOutput, error) {
	s.parts = append(s.parts, in.LayerPartBlob)
	return &ecrapi.UploadLayerPartOutput{
		RegistryId: ecrapi.Ptr("123456789012"), RepositoryName: in.RepositoryName, UploadId: in.UploadId,
		LastByteReceived: in.PartLastByte,
	}, nil
}

func newSDKClient(t *testing.T, s *stub) *ecr.Client {
	t.Helper()
	h := ecrapi.NewHandler(s)
	h.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	h.Authenticate = func(r *http.Request, body []byte) (any, error) {
		// Enough of SigV4 to see the SDK signed for ECR; the real check is
		// internal/access/sigv4's.
		auth := r.Header.Get("Authorization")
		if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(auth, "/us-east-1/ecr/aws4_request") {
			return nil, &awsjson.Error{Code: "MissingAuthenticationTokenException", Status: 403, Message: "Missing Authentication Token"}
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
			t.Errorf("SDK sent Content-Type %q", ct)
		}
		return "principal:AKIDEXAMPLE", nil
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return ecr.New(ecr.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
		HTTPClient:   srv.Client(),
		Retryer:      aws.NopRetryer{},
	})
}

func TestSDKCreateRepository(t *testing.T) {
	c := newSDKClient(t, &stub{})
	ctx := context.Background()

	out, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{
		RepositoryName:     aws.String("team/app"),
		ImageTagMutability: types.ImageTagMutabilityImmutable,
		Tags:               []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := out.Repository
	if aws.ToString(r.RepositoryName) != "team/app" || r.ImageTagMutability != types.ImageTagMutabilityImmutable ||
		aws.ToString(r.RepositoryUri) != "principal:AKIDEXAMPLE" || aws.ToString(r.RegistryId) != "123456789012" {
		t.Errorf("repository %+v", r)
	}
	if r.CreatedAt == nil || !r.CreatedAt.Equal(created) {
		t.Errorf("createdAt %v; want %v", r.CreatedAt, created)
	}
	if r.ImageScanningConfiguration == nil || r.ImageScanningConfiguration.ScanOnPush {
		t.Errorf("imageScanningConfiguration %+v", r.ImageScanningConfiguration)
	}

	// A modeled error arrives as the SDK's typed error.
	_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("exists")})
	var exists *types.RepositoryAlreadyExistsException
	if !errors.As(err, &exists) || !strings.Contains(exists.ErrorMessage(), "'exists' already exists") {
		t.Fatalf("got %v; want *types.RepositoryAlreadyExistsException", err)
	}
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != 400 {
		t.Errorf("status %v", err)
	}

	// Validation the SDK leaves to the server (enums, patterns).
	_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("Team/App"), ImageTagMutability: "SOMETIMES"})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" ||
		!strings.HasPrefix(ae.ErrorMessage(), "2 validation errors detected: Value 'Team/App' at 'repositoryName'") {
		t.Errorf("got %v; want a ValidationException", err)
	}

	// An operation the server does not implement.
	_, err = c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("team/app")})
	if !errors.As(err, &ae) || ae.ErrorCode() != "NotImplemented" {
		t.Errorf("got %v; want NotImplemented", err)
	}
}

func TestSDKPaginatorAndBlob(t *testing.T) {
	s := &stub{pages: awsjson.Paginator{Key: []byte("test key")}}
	c := newSDKClient(t, s)
	ctx := context.Background()

	p := ecr.NewDescribeImagesPaginator(c, &ecr.DescribeImagesInput{RepositoryName: aws.String("app"), MaxResults: aws.Int32(2)})
	var digests []string
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, d := range page.ImageDetails {
			digests = append(digests, aws.ToString(d.ImageDigest)[:8])
			if want := created.Add(time.Duration(len(digests)-1) * time.Hour); !d.ImagePushedAt.Equal(want) {
				t.Errorf("imagePushedAt %v; want %v", d.ImagePushedAt, want)
			}
		}
	}
	if pages != 3 || strings.Join(digests, ",") != "sha256:a,sha256:b,sha256:c,sha256:d,sha256:e" {
		t.Errorf("%d pages: %v", pages, digests)
	}

	// A forged token is refused.
	_, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("app"), NextToken: aws.String("forged")})
	var ipe *types.InvalidParameterException
	if !errors.As(err, &ipe) || ipe.ErrorMessage() != "Invalid NextToken" {
		t.Errorf("got %v; want InvalidParameterException", err)
	}

	blob := bytes.Repeat([]byte{0, 0xff, 'x'}, 1000)
	out, err := c.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{
		RepositoryName: aws.String("app"), UploadId: aws.String("0d3e4f5a-0000-4000-8000-000000000000"),
		PartFirstByte: aws.Int64(0), PartLastByte: aws.Int64(int64(len(blob) - 1)), LayerPartBlob: blob,
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt64(out.LastByteReceived) != int64(len(blob)-1) || len(s.parts) != 1 || !bytes.Equal(s.parts[0], blob) {
		t.Errorf("blob did not arrive intact: %+v", out)
	}
}
