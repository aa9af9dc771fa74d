package ecrapi_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
)

// validate decodes body into a new input of op and validates it.
func validate(t *testing.T, op, body string) error {
	t.Helper()
	in := ecrapi.Operations[op].NewInput()
	if err := json.Unmarshal([]byte(body), in); err != nil {
		t.Fatalf("%s: decoding %s: %v", op, body, err)
	}
	return ecrapi.Validate(in)
}

func TestValidationMessages(t *testing.T) {
	const repoPattern = `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`
	for _, tc := range []struct {
		op, body string
		want     string // the whole message, "" for valid input
	}{
		{"CreateRepository", `{}`,
			"1 validation error detected: Value null at 'repositoryName' failed to satisfy constraint: Member must not be null"},
		{"CreateRepository", `{"repositoryName":null}`,
			"1 validation error detected: Value null at 'repositoryName' failed to satisfy constraint: Member must not be null"},
		{"CreateRepository", `{"repositoryName":"team/app-1","imageTagMutability":"IMMUTABLE","tags":[{"Key":"a","Value":""}]}`, ""},
		{"CreateRepository", `{"repositoryName":"app","imageTagMutability":"mutable"}`,
			"1 validation error detected: Value 'mutable' at 'imageTagMutability' failed to satisfy constraint: " +
				"Member must satisfy enum value set: [MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]"},
		{"CreateRepository", `{"repositoryName":"app","imageTagMutability":""}`,
			"1 validation error detected: Value '' at 'imageTagMutability' failed to satisfy constraint: " +
				"Member must satisfy enum value set: [MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]"},
		{"CreateRepository", `{"repositoryName":"My_Repo"}`,
			"1 validation error detected: Value 'My_Repo' at 'repositoryName' failed to satisfy constraint: " +
				"Member must satisfy regular expression pattern: " + repoPattern},
		// The pattern must match the whole value, not a part of it.
		{"CreateRepository", `{"repositoryName":"app/"}`,
			"1 validation error detected: Value 'app/' at 'repositoryName' failed to satisfy constraint: " +
				"Member must satisfy regular expression pattern: " + repoPattern},
		{"CreateRepository", `{"repositoryName":"a"}`,
			"1 validation error detected: Value 'a' at 'repositoryName' failed to satisfy constraint: " +
				"Member must have length greater than or equal to 2"},
		{"CreateRepository", `{"repositoryName":"` + strings.Repeat("a", 257) + `"}`,
			"1 validation error detected: Value '" + strings.Repeat("a", 257) + "' at 'repositoryName' failed to satisfy constraint: " +
				"Member must have length less than or equal to 256"},
		{"CreateRepository", `{"repositoryName":""}`,
			"2 validation errors detected: Value '' at 'repositoryName' failed to satisfy constraint: " +
				"Member must satisfy regular expression pattern: " + repoPattern + "; " +
				"Value '' at 'repositoryName' failed to satisfy constraint: Member must have length greater than or equal to 2"},
		{"CreateRepository", `{"repositoryName":"app","registryId":"12345"}`,
			"1 validation error detected: Value '12345' at 'registryId' failed to satisfy constraint: " +
				"Member must satisfy regular expression pattern: [0-9]{12}"},
		{"CreateRepository", `{"repositoryName":"app","tags":[{"Key":"k"},{"Value":"v"}]}`,
			"2 validation errors detected: Value null at 'tags.1.member.Value' failed to satisfy constraint: Member must not be null; " +
				"Value null at 'tags.2.member.Key' failed to satisfy constraint: Member must not be null"},
		{"CreateRepository", `{"repositoryName":"app","encryptionConfiguration":{"encryptionType":"DES"}}`,
			"1 validation error detected: Value 'DES' at 'encryptionConfiguration.encryptionType' failed to satisfy constraint: " +
				"Member must satisfy enum value set: [AES256, KMS, KMS_DSSE]"},
		{"DescribeImages", `{"repositoryName":"app","maxResults":1000}`, ""},
		{"DescribeImages", `{"repositoryName":"app","maxResults":1001}`,
			"1 validation error detected: Value '1001' at 'maxResults' failed to satisfy constraint: " +
				"Member must have value less than or equal to 1000"},
		{"DescribeImages", `{"repositoryName":"app","maxResults":0}`,
			"1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: " +
				"Member must have value greater than or equal to 1"},
		{"DescribeImages", `{"repositoryName":"app","filter":{"tagStatus":"SOME"}}`,
			"1 validation error detected: Value 'SOME' at 'filter.tagStatus' failed to satisfy constraint: " +
				"Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]"},
		{"DescribeImages", `{"repositoryName":"app","imageIds":[{"imageTag":"latest"},{"imageTag":""},{"imageTag":"` + strings.Repeat("t", 301) + `"}]}`,
			"2 validation errors detected: Value '' at 'imageIds.2.member.imageTag' failed to satisfy constraint: " +
				"Member must have length greater than or equal to 1; Value '" + strings.Repeat("t", 301) +
				"' at 'imageIds.3.member.imageTag' failed to satisfy constraint: Member must have length less than or equal to 300"},
		{"BatchDeleteImage", `{"repositoryName":"app"}`,
			"1 validation error detected: Value null at 'imageIds' failed to satisfy constraint: Member must not be null"},
		{"BatchDeleteImage", `{"repositoryName":"app","imageIds":[]}`,
			"1 validation error detected: Value '[]' at 'imageIds' failed to satisfy constraint: " +
				"Member must have length greater than or equal to 1"},
		{"BatchDeleteImage", `{"repositoryName":"app","imageIds":[{"imageDigest":"sha256:ab","imageTag":"v1"}]}`, ""},
		{"BatchDeleteImage", `{"imageIds":[` + strings.Repeat(`{"imageTag":"x"},`, 100) + `{"imageTag":""}]}`,
			"3 validation errors detected: Value null at 'repositoryName' failed to satisfy constraint: Member must not be null; " +
				"Value '[ImageIdentifier(imageDigest=null, imageTag=x)" + strings.Repeat(", ImageIdentifier(imageDigest=null, imageTag=x)", 99) +
				", ImageIdentifier(imageDigest=null, imageTag=)]' at 'imageIds' failed to satisfy constraint: Member must have length less than or equal to 100; " +
				"Value '' at 'imageIds.101.member.imageTag' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"BatchCheckLayerAvailability", `{"repositoryName":"app","layerDigests":["sha256:ab","` + strings.Repeat("0", 1001) + `"]}`,
			"1 validation error detected: Value '" + strings.Repeat("0", 1001) + "' at 'layerDigests.2.member' failed to satisfy constraint: " +
				"Member must have length less than or equal to 1000"},
		{"UploadLayerPart", `{"repositoryName":"app","uploadId":"not-a-uuid","partFirstByte":-1,"partLastByte":0,"layerPartBlob":""}`,
			"2 validation errors detected: Value 'not-a-uuid' at 'uploadId' failed to satisfy constraint: " +
				"Member must satisfy regular expression pattern: [0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}; " +
				"Value '-1' at 'partFirstByte' failed to satisfy constraint: Member must have value greater than or equal to 0"},
		{"UploadLayerPart", `{"repositoryName":"app","uploadId":"0D3E4F5A-0000-4000-8000-000000000000","partFirstByte":0,"partLastByte":0}`,
			"1 validation error detected: Value null at 'layerPartBlob' failed to satisfy constraint: Member must not be null"},
		{"PutImageScanningConfiguration", `{"repositoryName":"app"}`,
			"1 validation error detected: Value null at 'imageScanningConfiguration' failed to satisfy constraint: Member must not be null"},
		{"CreatePullThroughCacheRule", `{"ecrRepositoryPrefix":"ROOT","upstreamRegistryUrl":"public.ecr.aws","upstreamRegistry":"ecr-public"}`, ""},
		{"CreatePullThroughCacheRule", `{"ecrRepositoryPrefix":"x","upstreamRegistryUrl":"u","credentialArn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:nope"}`,
			"2 validation errors detected: Value 'x' at 'ecrRepositoryPrefix' failed to satisfy constraint: " +
				"Member must have length greater than or equal to 2; Value 'arn:aws:secretsmanager:us-east-1:123456789012:secret:nope' at 'credentialArn' failed to satisfy constraint: " +
				`Member must satisfy regular expression pattern: ^arn:aws(-\w+)*:secretsmanager:[a-zA-Z0-9-:]+:secret:ecr\-pullthroughcache\/[a-zA-Z0-9\/_+=.@-]+$`},
		{"GetAuthorizationToken", `{}`, ""},
		{"GetAuthorizationToken", `{"registryIds":[]}`,
			"1 validation error detected: Value '[]' at 'registryIds' failed to satisfy constraint: Member must have length greater than or equal to 1"},
	} {
		err := validate(t, tc.op, tc.body)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s %s: unexpected %v", tc.op, tc.body, err)
			}
			continue
		}
		var ve *awsjson.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s %s: got %v; want a *awsjson.ValidationError", tc.op, tc.body, err)
			continue
		}
		if ve.Error() != tc.want {
			t.Errorf("%s %s:\n got %s\nwant %s", tc.op, tc.body, ve.Error(), tc.want)
		}
		if ve.ErrorCode() != "ValidationException" || ve.HTTPStatus() != 400 {
			t.Errorf("code %s status %d", ve.ErrorCode(), ve.HTTPStatus())
		}
	}
}

// Every operation's input validates its zero value without panicking, and
// its Validate method is what Validate(any) calls.
func TestEveryInputValidates(t *testing.T) {
	for _, name := range ecrapi.OperationNames {
		in := ecrapi.Operations[name].NewInput()
		v, ok := in.(interface{ Validate() error })
		if !ok {
			t.Errorf("%s: %T has no Validate method", name, in)
			continue
		}
		err := v.Validate()
		if (err == nil) != (ecrapi.Validate(in) == nil) {
			t.Errorf("%s: Validate and Validate(any) disagree", name)
		}
	}
	if ecrapi.Validate(42) != nil {
		t.Error("Validate of a non-input")
	}
}
