package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// generateDirective reads the go:generate line of the ecrapi package, so
// the test regenerates exactly what `go generate` does.
func generateDirective(t *testing.T) (cfg config, out string) {
	t.Helper()
	const pkgDir = "../ecrapi"
	src, err := os.ReadFile(filepath.Join(pkgDir, "doc.go"))
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, line := range strings.Split(string(src), "\n") {
		if rest, ok := strings.CutPrefix(line, "//go:generate go run ../gen "); ok {
			args = strings.Fields(rest)
		}
	}
	if len(args) == 0 {
		t.Fatal("no //go:generate go run ../gen line in ../ecrapi/doc.go")
	}
	for i := 0; i+1 < len(args); i += 2 {
		v := args[i+1]
		switch args[i] {
		case "-model":
			cfg.ModelPath = filepath.Join(pkgDir, v)
		case "-paginators":
			cfg.PaginatorsPath = filepath.Join(pkgDir, v)
		case "-pkg":
			cfg.Package = v
		case "-out":
			out = filepath.Join(pkgDir, v)
		default:
			t.Fatalf("unexpected flag %s in go:generate line", args[i])
		}
	}
	if _, err := os.Stat(cfg.ModelPath); err != nil {
		t.Skipf("ECR model not available (%v); the repository expects ../shared beside it", err)
	}
	return cfg, out
}

func TestGeneratedFileIsCurrent(t *testing.T) {
	cfg, committed := generateDirective(t)
	src, err := generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(t.TempDir(), "zz_generated.go")
	if err := writeFileAtomic(fresh, src); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("%s is stale (run go generate ./internal/awsjson/ecrapi); first difference at line %d:\n committed: %s\nregenerated: %s",
					committed, i+1, wl[i], gl[i])
			}
		}
		t.Fatalf("%s is stale (run go generate ./internal/awsjson/ecrapi): %d lines committed, %d regenerated", committed, len(wl), len(gl))
	}
	if !bytes.HasPrefix(got, []byte("// Code generated ")) || !bytes.Contains(got, []byte(" DO NOT EDIT.\n")) {
		t.Error("missing the Code generated ... DO NOT EDIT. header")
	}
	// Deterministic: map iteration order must not leak into the output.
	for range 3 {
		again, err := generate(cfg)
		if err != nil || !bytes.Equal(again, src) {
			t.Fatal("two runs of the generator differ")
		}
	}
}

func TestNames(t *testing.T) {
	for _, tc := range [][3]string{
		{"UpstreamRegistry", "ecr-public", "UpstreamRegistryEcrPublic"},
		{"EncryptionType", "KMS_DSSE", "EncryptionTypeKmsDsse"},
		{"EncryptionType", "AES256", "EncryptionTypeAes256"},
		{"ImageFailureCode", "InvalidImageDigest", "ImageFailureCodeInvalidImageDigest"},
		{"T", "github-container-registry", "TGithubContainerRegistry"},
		{"T", "", "TEmpty"},
	} {
		if got := enumConstName(tc[0], tc[1]); got != tc[2] {
			t.Errorf("enumConstName(%q, %q) = %q; want %q", tc[0], tc[1], got, tc[2])
		}
	}
	if got := summary(`<p>Creates a repository. For more information, see <a href="x">Amazon ECR repositories</a> in the <i>Guide</i>.</p>`); got != "Creates a repository." {
		t.Errorf("summary = %q", got)
	}
	if got := summary(`<p>The <code>imageIds</code> &amp; tags .</p>`); got != "The imageIds & tags." {
		t.Errorf("summary = %q", got)
	}
}

// synthModel exercises what ECR's model does not: maps in inputs (with enum
// keys and structure values), nested lists, doubles with bounds, timestamps
// in inputs, a pattern RE2 cannot compile, an error with an explicit HTTP
// status, and an operation without input or output.
const synthModel = `{
  "version": "2.0",
  "metadata": {"apiVersion": "2024-01-01", "protocol": "json", "jsonVersion": "1.1", "serviceId": "Synth",
    "signingName": "synth", "targetPrefix": "Synth_20240101", "uid": "synth-2024-01-01"},
  "operations": {
    "PutThing": {"name": "PutThing", "http": {"method": "POST", "requestUri": "/"},
      "input": {"shape": "PutThingRequest"}, "output": {"shape": "PutThingResponse"},
      "errors": [{"shape": "ThingException"}, {"shape": "FaultException"}], "documentation": "<p>Puts a thing.</p>"},
    "Ping": {"name": "Ping", "http": {"method": "POST", "requestUri": "/"}, "deprecated": true}
  },
  "shapes": {
    "PutThingRequest": {"type": "structure", "required": ["name"], "members": {
      "name": {"shape": "Name"}, "labels": {"shape": "LabelMap"}, "matrix": {"shape": "Matrix"},
      "ratio": {"shape": "Ratio"}, "when": {"shape": "When"}, "weird": {"shape": "Weird"}, "data": {"shape": "Data"}}},
    "PutThingResponse": {"type": "structure", "members": {"labels": {"shape": "LabelMap"}, "when": {"shape": "When"}}},
    "Name": {"type": "string", "min": 2, "max": 8, "pattern": "[a-z]+"},
    "LabelMap": {"type": "map", "key": {"shape": "LabelKey"}, "value": {"shape": "Label"}, "min": 1},
    "LabelKey": {"type": "string", "enum": ["A", "B"]},
    "Label": {"type": "structure", "required": ["value"], "members": {"value": {"shape": "Str"}}},
    "Str": {"type": "string"},
    "Matrix": {"type": "list", "member": {"shape": "Row"}},
    "Row": {"type": "list", "member": {"shape": "Cell"}, "max": 2},
    "Cell": {"type": "integer", "min": 0, "max": 9},
    "Ratio": {"type": "double", "min": 0, "max": 1},
    "When": {"type": "timestamp"},
    "Weird": {"type": "string", "pattern": "(?=x)y"},
    "Data": {"type": "blob", "max": 4},
    "ThingException": {"type": "structure", "exception": true, "error": {"httpStatusCode": 409},
      "members": {"Message": {"shape": "Str"}, "thingCount": {"shape": "Count"}}},
    "Count": {"type": "long"},
    "FaultException": {"type": "structure", "exception": true, "fault": true, "members": {"message": {"shape": "Str"}}}
  }
}`

const synthTest = `package synth

import (
	"encoding/json"
	"testing"

	"github.com/wharfhq/wharf/internal/awsjson"
)

func TestSynth(t *testing.T) {
	var in PutThingInput
	body := ` + "`" + `{"name":"ab","labels":{"C":{"value":"x"},"A":{}},"matrix":[[1,10],[-1],[1,2,3]],"ratio":1.5,"weird":"anything","data":"AAAA","when":1.5}` + "`" + `
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	want := "6 validation errors detected: " +
		"Value null at 'labels.A.value' failed to satisfy constraint: Member must not be null; " +
		"Value 'C' at 'labels.C' failed to satisfy constraint: Member must satisfy enum value set: [A, B]; " +
		"Value '10' at 'matrix.1.member.2.member' failed to satisfy constraint: Member must have value less than or equal to 9; " +
		"Value '-1' at 'matrix.2.member.1.member' failed to satisfy constraint: Member must have value greater than or equal to 0; " +
		"Value '[1, 2, 3]' at 'matrix.3.member' failed to satisfy constraint: Member must have length less than or equal to 2; " +
		"Value '1.5' at 'ratio' failed to satisfy constraint: Member must have value less than or equal to 1"
	if err := in.Validate(); err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	in = PutThingInput{Name: awsjson.Ptr("abc"), Data: []byte("12345"), Labels: map[LabelKey]Label{}}
	want = "2 validation errors detected: " +
		"Value '{}' at 'labels' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
		"Value 'java.nio.HeapByteBuffer[pos=0 lim=5 cap=5]' at 'data' failed to satisfy constraint: Member must have length less than or equal to 4"
	if err := in.Validate(); err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	if err := (&PingInput{}).Validate(); err != nil {
		t.Error(err)
	}
	e := NewThingException("busy")
	e.ThingCount = awsjson.Ptr(int64(3))
	if e.HTTPStatus() != 409 || e.ErrorMessage() != "busy" || NewFaultException("x").HTTPStatus() != 500 || FaultCode != "FaultException" {
		t.Error("errors")
	}
	if b, _ := json.Marshal(e.ErrorMembers()); string(b) != ` + "`" + `{"Message":"busy","thingCount":3}` + "`" + ` {
		t.Errorf("members %s", b)
	}
	if len(Operations) != 2 || !Operations["Ping"].Deprecated || Operations["Ping"].InputShape != "" {
		t.Errorf("operations %+v", Operations)
	}
	var _ Service = struct {
		PutThingAPI
		PingAPI
	}{}
}
`

func TestSyntheticModel(t *testing.T) {
	dir := t.TempDir()
	modelPath := filepath.Join(dir, "synth-2.json")
	if err := os.WriteFile(modelPath, []byte(synthModel), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := generate(config{ModelPath: modelPath, Package: "synth"})
	if err != nil {
		t.Fatal(err)
	}
	compact := strings.Join(strings.Fields(string(src)), " ")
	for _, want := range []string{
		"// - Weird: (?=x)y (error parsing regexp",
		"Labels map[LabelKey]Label `json:\"labels,omitzero\"`",
		"Matrix [][]int32 `json:\"matrix,omitzero\"`",
		"When *awsjson.Timestamp",
		"type PingInput struct{}",
		"Deprecated: the model deprecates this operation.",
	} {
		if !strings.Contains(compact, want) {
			t.Errorf("generated code lacks %q", want)
		}
	}
	if testing.Short() {
		t.Skip("compiling the generated package is skipped in -short mode")
	}
	// Compile and run the generated package with a test, through an
	// overlay: nothing is written into the source tree.
	gen, test := filepath.Join(dir, "zz_generated.go"), filepath.Join(dir, "synth_test.go")
	os.WriteFile(gen, src, 0o644)
	os.WriteFile(test, []byte(synthTest), 0o644)
	wd, _ := os.Getwd()
	virtual := filepath.Join(wd, "testdata", "synth-virtual")
	overlay := filepath.Join(dir, "overlay.json")
	os.WriteFile(overlay, []byte(fmt.Sprintf(`{"Replace":{%q:%q,%q:%q}}`,
		filepath.Join(virtual, "zz_generated.go"), gen, filepath.Join(virtual, "synth_test.go"), test)), 0o644)
	bin := filepath.Join(dir, "synth.test")
	cmd := exec.Command("go", "test", "-vet=off", "-c", "-o", bin, "-overlay", overlay, "./testdata/synth-virtual")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("compiling generated code: %v\n%s", err, out)
	}
	run := exec.Command(bin, "-test.v")
	run.Dir = dir
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("generated code's test failed: %v\n%s", err, out)
	}
}

func TestRejectsUnsupported(t *testing.T) {
	for name, edit := range map[string][2]string{
		"protocol":        {`"protocol": "json"`, `"protocol": "rest-json"`},
		"timestampFormat": {`"When": {"type": "timestamp"}`, `"When": {"type": "timestamp", "timestampFormat": "iso8601"}`},
		"union":           {`"Label": {"type": "structure",`, `"Label": {"type": "structure", "union": true,`},
		"unknown shape":   {`{"shape": "Str"}, "thingCount"`, `{"shape": "Nope"}, "thingCount"`},
		"fractional min":  {`"min": 0, "max": 1}`, `"min": 0.5, "max": 1}`},
	} {
		if !strings.Contains(synthModel, edit[0]) {
			t.Fatalf("%s: edit does not apply", name)
		}
		path := filepath.Join(t.TempDir(), "m.json")
		os.WriteFile(path, []byte(strings.Replace(synthModel, edit[0], edit[1], 1)), 0o644)
		if _, err := generate(config{ModelPath: path, Package: "x"}); err == nil {
			t.Errorf("%s: generated without error", name)
		}
	}
}
