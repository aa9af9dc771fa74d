package ecrapi_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
)

func TestDescribeImagesOutputRoundTrip(t *testing.T) {
	pushed := time.Date(2024, 3, 1, 12, 30, 45, 123_000_000, time.UTC)
	pulled := time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC)
	out := &ecrapi.DescribeImagesOutput{
		ImageDetails: []ecrapi.ImageDetail{{
			RegistryId:             ecrapi.Ptr("123456789012"),
			RepositoryName:         ecrapi.Ptr("team/app"),
			ImageDigest:            ecrapi.Ptr("sha256:ab"),
			ImageTags:              []string{"v1", "latest"},
			ImageSizeInBytes:       ecrapi.Ptr(int64(1 << 40)),
			ImagePushedAt:          awsjson.NewTimestamp(pushed),
			LastRecordedPullTime:   awsjson.NewTimestamp(pulled),
			ImageManifestMediaType: ecrapi.Ptr("application/vnd.oci.image.manifest.v1+json"),
			ImageStatus:            ecrapi.Ptr(ecrapi.ImageStatusActive),
			ImageScanFindingsSummary: &ecrapi.ImageScanFindingsSummary{
				FindingSeverityCounts: map[ecrapi.FindingSeverity]int32{ecrapi.FindingSeverityHigh: 2, ecrapi.FindingSeverityLow: 0},
			},
		}, {
			ImageDigest: ecrapi.Ptr("sha256:cd"),
			ImageTags:   []string{}, // present but empty: kept
		}},
		NextToken: ecrapi.Ptr("tok"),
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"imageDetails":[{"registryId":"123456789012","repositoryName":"team/app","imageDigest":"sha256:ab",` +
		`"imageTags":["v1","latest"],"imageSizeInBytes":1099511627776,"imagePushedAt":1709296245.123,` +
		`"imageScanFindingsSummary":{"findingSeverityCounts":{"HIGH":2,"LOW":0}},` +
		`"imageManifestMediaType":"application/vnd.oci.image.manifest.v1+json","lastRecordedPullTime":1709337600,"imageStatus":"ACTIVE"},` +
		`{"imageDigest":"sha256:cd","imageTags":[]}],"nextToken":"tok"}`
	if string(b) != want {
		t.Errorf("encoded\n got %s\nwant %s", b, want)
	}
	var back ecrapi.DescribeImagesOutput
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.ImageDetails[0].ImagePushedAt.Equal(pushed) || !back.ImageDetails[0].LastRecordedPullTime.Equal(pulled) {
		t.Errorf("timestamps: %v %v", back.ImageDetails[0].ImagePushedAt, back.ImageDetails[0].LastRecordedPullTime)
	}
	// Normalise locations, then compare everything.
	for _, d := range []*ecrapi.ImageDetail{&out.ImageDetails[0], &back.ImageDetails[0]} {
		d.ImagePushedAt.Time = d.ImagePushedAt.UTC()
		d.LastRecordedPullTime.Time = d.LastRecordedPullTime.UTC()
	}
	if !reflect.DeepEqual(out, &back) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, *out)
	}

	// AWS's own encoding of the same instant (Java double notation).
	var fromAWS ecrapi.ImageDetail
	if err := json.Unmarshal([]byte(`{"imagePushedAt":1.709296245123E9}`), &fromAWS); err != nil || !fromAWS.ImagePushedAt.Equal(pushed) {
		t.Errorf("AWS notation: %v %v", fromAWS.ImagePushedAt, err)
	}
}

func TestUploadLayerPartBlob(t *testing.T) {
	blob := []byte{0, 1, 2, 0xfe, 0xff, 'x'}
	in := ecrapi.UploadLayerPartInput{
		RepositoryName: ecrapi.Ptr("app"),
		UploadId:       ecrapi.Ptr("0d3e4f5a-0000-4000-8000-000000000000"),
		PartFirstByte:  ecrapi.Ptr(int64(0)), // zero but present: kept
		PartLastByte:   ecrapi.Ptr(int64(5)),
		LayerPartBlob:  blob,
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"repositoryName":"app","uploadId":"0d3e4f5a-0000-4000-8000-000000000000","partFirstByte":0,"partLastByte":5,"layerPartBlob":"AAEC/v94"}`
	if string(b) != want {
		t.Errorf("got %s\nwant %s", b, want)
	}
	var back ecrapi.UploadLayerPartInput
	if err := json.Unmarshal(b, &back); err != nil || !bytes.Equal(back.LayerPartBlob, blob) || *back.PartFirstByte != 0 {
		t.Errorf("round trip: %+v %v", back, err)
	}
	if err := back.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	// An empty blob is present ("") and valid (min 0); an absent one is not.
	back.LayerPartBlob = []byte{}
	if b, _ := json.Marshal(back); !bytes.Contains(b, []byte(`"layerPartBlob":""`)) {
		t.Errorf("empty blob dropped: %s", b)
	}
	var empty ecrapi.UploadLayerPartInput
	json.Unmarshal([]byte(`{"layerPartBlob":""}`), &empty)
	if empty.LayerPartBlob == nil {
		t.Error(`"" decoded as absent`)
	}
}

func TestAbsentVersusZero(t *testing.T) {
	b, _ := json.Marshal(ecrapi.ImageScanningConfiguration{})
	if string(b) != `{}` {
		t.Errorf("absent members encoded: %s", b)
	}
	b, _ = json.Marshal(ecrapi.ImageScanningConfiguration{ScanOnPush: ecrapi.Ptr(false)})
	if string(b) != `{"scanOnPush":false}` {
		t.Errorf("false dropped: %s", b)
	}
	b, _ = json.Marshal(ecrapi.ListImagesOutput{ImageIds: []ecrapi.ImageIdentifier{}})
	if string(b) != `{"imageIds":[]}` {
		t.Errorf("empty list: %s", b)
	}
}
