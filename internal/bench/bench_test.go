package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestRandReaderDeterministic(t *testing.T) {
	const size = 1<<20 + 13 // not a multiple of the 8-byte word
	want, err := io.ReadAll(NewRandReader(42, size))
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != size {
		t.Fatalf("read %d bytes, want %d", len(want), size)
	}
	// Same stream whatever the read sizes.
	rng := rand.New(rand.NewPCG(1, 2))
	r := NewRandReader(42, size)
	var got []byte
	buf := make([]byte, 70000)
	for {
		n, err := r.Read(buf[:1+rng.IntN(len(buf)-1)])
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatal("stream depends on read sizes")
	}
	// Byte by byte for the first words.
	r = NewRandReader(42, size)
	for i := 0; i < 100; i++ {
		var b [1]byte
		if _, err := r.Read(b[:]); err != nil || b[0] != want[i] {
			t.Fatalf("byte %d: got %x, want %x (%v)", i, b[0], want[i], err)
		}
	}
	// WriteTo gives the same bytes.
	var w bytes.Buffer
	if n, err := NewRandReader(42, size).WriteTo(&w); err != nil || n != size || !bytes.Equal(w.Bytes(), want) {
		t.Fatalf("WriteTo: n=%d err=%v equal=%v", n, err, bytes.Equal(w.Bytes(), want))
	}
	// Another seed gives other bytes.
	other, _ := io.ReadAll(NewRandReader(43, size))
	if bytes.Equal(other[:64], want[:64]) {
		t.Fatal("seeds 42 and 43 give the same stream")
	}
	// Prefix property: a shorter reader is a prefix of a longer one.
	short, _ := io.ReadAll(NewRandReader(42, 1000))
	if !bytes.Equal(short, want[:1000]) {
		t.Fatal("shorter stream is not a prefix")
	}
	// Not trivially compressible: all byte values appear.
	var seen [256]bool
	for _, b := range want[:1<<16] {
		seen[b] = true
	}
	for v, ok := range seen {
		if !ok {
			t.Fatalf("byte value %d never appears", v)
		}
	}
	// Digest is the sha256 of the stream.
	s := sha256.Sum256(want)
	if d := Digest(42, size); d != "sha256:"+hex.EncodeToString(s[:]) {
		t.Fatalf("Digest = %s", d)
	}
	if n, err := NewRandReader(1, 0).Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("empty reader: %d, %v", n, err)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	SortDurations(d)
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {90, 90 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := Percentile(d, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("empty: %v", got)
	}
	one := []time.Duration{7}
	if Percentile(one, 1) != 7 || Percentile(one, 99) != 7 {
		t.Error("single sample")
	}
	// Nearest rank: p99 of 10 samples is the 10th, p50 the 5th.
	ten := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if Percentile(ten, 99) != 10 || Percentile(ten, 50) != 5 || Percentile(ten, 90) != 9 {
		t.Errorf("ten: p50 %v p90 %v p99 %v", Percentile(ten, 50), Percentile(ten, 90), Percentile(ten, 99))
	}
}

func TestMedian(t *testing.T) {
	if m := Median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("odd: %v", m)
	}
	if m := Median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("even: %v", m)
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("empty is not NaN")
	}
}

func TestParseLinkNext(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{`</v2/r/tags/list?n=100&last=b>; rel="next"`}, "/v2/r/tags/list?n=100&last=b"},
		{[]string{`<https://x/v2/r/tags/list?last=a>;rel=next`}, "https://x/v2/r/tags/list?last=a"},
		{[]string{`</prev>; rel="prev", </next>; rel="next"`}, "/next"},
		{[]string{`</a>; title="x, y; z"; rel="next"`}, "/a"},
		{[]string{`</a>; rel="prefetch next"`}, "/a"},
		{[]string{`</a>; REL="Next"`}, "/a"},
		{[]string{`</prev>; rel="prev"`, `</n2>; rel="next"`}, "/n2"},
		{[]string{`</a>; rel="nextish"`}, ""},
		{[]string{`garbage, </b>; rel="next"`}, "/b"},
		{[]string{""}, ""},
		{nil, ""},
		{[]string{`<unterminated; rel="next"`}, ""},
	} {
		if got := ParseLinkNext(c.in...); got != c.want {
			t.Errorf("ParseLinkNext(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSplitChunks(t *testing.T) {
	const mib = 1 << 20
	cs := SplitChunks(40*mib+5, 16*mib)
	want := []Chunk{{0, 16*mib - 1}, {16 * mib, 32*mib - 1}, {32 * mib, 40*mib + 4}}
	if len(cs) != len(want) {
		t.Fatalf("got %v", cs)
	}
	var total int64
	for i := range cs {
		if cs[i] != want[i] {
			t.Errorf("chunk %d = %v, want %v", i, cs[i], want[i])
		}
		total += cs[i].Len()
	}
	if total != 40*mib+5 {
		t.Errorf("total %d", total)
	}
	if cs[0].ContentRange() != "0-16777215" {
		t.Errorf("ContentRange %q", cs[0].ContentRange())
	}
	if cs := SplitChunks(32*mib, 16*mib); len(cs) != 2 || cs[1].End != 32*mib-1 {
		t.Errorf("exact multiple: %v", cs)
	}
	if cs := SplitChunks(10, 0); len(cs) != 1 || cs[0] != (Chunk{0, 9}) {
		t.Errorf("chunk 0: %v", cs)
	}
	if cs := SplitChunks(10, 100); len(cs) != 1 || cs[0] != (Chunk{0, 9}) {
		t.Errorf("chunk > size: %v", cs)
	}
	if cs := SplitChunks(0, 16); len(cs) != 0 {
		t.Errorf("empty: %v", cs)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "4096": 4096, "256MiB": 256 << 20, "16MiB": 16 << 20, "16M": 16 << 20,
		"1.5GiB": 3 << 29, "512k": 512 << 10, "100MB": 100e6, "2 GB": 2e9, "10b": 10,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "12XB", "1e3"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q): no error", in)
		}
	}
	if s := FormatSize(16 << 20); s != "16MiB" {
		t.Errorf("FormatSize = %q", s)
	}
}

func TestCountTags(t *testing.T) {
	for doc, want := range map[string]int{
		`{"name":"a/b","tags":["t1","t2","latest"]}`:    3,
		`{"name":"a","tags":[]}`:                        0,
		`{"name":"a","tags":null}`:                      0,
		"{\n  \"tags\" : [ \"x\" ],\n  \"name\":\"n\"}": 1,
	} {
		if got, err := CountTags([]byte(doc)); err != nil || got != want {
			t.Errorf("CountTags(%s) = %d, %v; want %d", doc, got, err, want)
		}
	}
	for _, doc := range []string{`{"name":"a"}`, `{"tags":"x"}`, `{"tags":["a]`, `{"tags":["a","b]}`} {
		if _, err := CountTags([]byte(doc)); err == nil {
			t.Errorf("CountTags(%s): no error", doc)
		}
	}
}

func TestParseChallenge(t *testing.T) {
	s, p := parseChallenge(`Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a:pull"`)
	if s != "Bearer" || p["realm"] != "https://auth.example/token" || p["service"] != "registry.example" || p["scope"] != "repository:a:pull" {
		t.Errorf("got %q %v", s, p)
	}
	s, p = parseChallenge(`Basic realm=wharf`)
	if s != "Basic" || p["realm"] != "wharf" {
		t.Errorf("got %q %v", s, p)
	}
}

func newTestClient(t *testing.T, url, user, pass string) *Client {
	t.Helper()
	c, err := NewClient(ClientOptions{BaseURL: url, User: user, Password: pass, Concurrency: 4, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestPushPullAgainstFake(t *testing.T) {
	f, srv := newFakeRegistry(t)
	f.user, f.pass = "AKIABENCH", "secret"
	ctx := context.Background()

	if err := newTestClient(t, srv.URL, "", "").Ping(ctx); err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("anonymous ping: %v", err)
	}
	if err := newTestClient(t, srv.URL, "AKIABENCH", "wrong").Ping(ctx); !IsStatus(err, 401) {
		t.Fatalf("wrong password: %v", err)
	}
	c := newTestClient(t, srv.URL, "AKIABENCH", "secret")
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	const size = 5<<20 + 3
	d := Digest(7, size)
	// Chunked: 2 MiB chunks -> 3 PATCHes with exact Content-Ranges.
	if err := c.PushBlob(ctx, "a/b", d, size, NewRandReader(7, size), 2<<20); err != nil {
		t.Fatal(err)
	}
	want := []string{"0-2097151", "2097152-4194303", "4194304-5242882"}
	if strings.Join(f.patches, " ") != strings.Join(want, " ") {
		t.Fatalf("PATCH ranges %v, want %v", f.patches, want)
	}
	ok, n, err := c.HeadBlob(ctx, "a/b", d)
	if err != nil || !ok || n != size {
		t.Fatalf("HEAD: %v %d %v", ok, n, err)
	}
	if got, err := c.GetBlob(ctx, "a/b", d, size, true, nil); err != nil || got != size {
		t.Fatalf("GET: %d %v", got, err)
	}
	// Monolithic.
	d2 := Digest(8, 1000)
	if err := c.PushBlob(ctx, "a/b", d2, 1000, NewRandReader(8, 1000), 0); err != nil {
		t.Fatal(err)
	}
	if f.count("PATCH blobs/uploads") != 3 || f.count("PUT blobs/uploads") != 2 || f.count("POST blobs/uploads") != 2 {
		t.Fatalf("requests: %v", f.requests)
	}
	// A wrong digest is refused by the registry and reported.
	if err := c.PushBlob(ctx, "a/b", Digest(9, 10), 10, NewRandReader(8, 10), 0); !IsStatus(err, 400) {
		t.Fatalf("bad digest: %v", err)
	}
	// Verification catches corrupted content; size checks catch short reads.
	f.corrupt = d2
	if _, err := c.GetBlob(ctx, "a/b", d2, 1000, true, nil); err == nil || !strings.Contains(err.Error(), "content has digest") {
		t.Fatalf("corrupt blob: %v", err)
	}
	if _, err := c.GetBlob(ctx, "a/b", d2, 999, false, nil); err == nil {
		t.Fatal("size mismatch not detected")
	}
	if ok, _, err := c.HeadBlob(ctx, "a/b", Digest(10, 10)); ok || err != nil {
		t.Fatalf("HEAD missing: %v %v", ok, err)
	}
}

func TestListTagsPagination(t *testing.T) {
	f, srv := newFakeRegistry(t)
	f.pageSize = 7 // the registry paginates even without ?n=
	c := newTestClient(t, srv.URL, "", "")
	ctx := context.Background()
	img := smallImage(1, 1, "x")
	if err := c.PushImage(ctx, "r", "t00000", img, PushOptions{HeadFirst: true}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 50; i++ {
		if _, err := c.PutManifest(ctx, "r", TagName(i), MediaTypeOCIManifest, img.Manifest); err != nil {
			t.Fatal(err)
		}
	}
	var all []string
	pages := 0
	n, err := c.ListTags(ctx, "r", 0, 100, true, nil, func(k int, tags []string) {
		pages++
		all = append(all, tags...)
	})
	if err != nil || n != 50 || len(all) != 50 || pages != 8 {
		t.Fatalf("decode: n=%d len=%d pages=%d err=%v", n, len(all), pages, err)
	}
	for i, tag := range all {
		if tag != TagName(i) {
			t.Fatalf("tag %d = %s", i, tag)
		}
	}
	n, err = c.ListTags(ctx, "r", 20, 100, false, nil, nil)
	if err != nil || n != 50 {
		t.Fatalf("count, n=20: %d %v", n, err)
	}
	if _, err := c.ListTags(ctx, "r", 0, 3, false, nil, nil); err == nil {
		t.Fatal("page limit not enforced")
	}
}

func TestBearerAuth(t *testing.T) {
	f, srv := newFakeRegistry(t)
	f.bearer, f.user, f.pass = true, "u", "p"
	c := newTestClient(t, srv.URL, "u", "p")
	ctx := context.Background()
	if err := c.Ping(ctx, "x/y"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PushBytes(ctx, "x/y", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if f.tokenReqs != 1 {
		t.Fatalf("token requests: %d", f.tokenReqs)
	}
}

func TestScenariosAgainstFake(t *testing.T) {
	f, srv := newFakeRegistry(t)
	f.user, f.pass = "AKIABENCH", "secret"
	f.pageSize = 100
	c := newTestClient(t, srv.URL, "AKIABENCH", "secret")
	ctx := context.Background()
	base := Config{Blobs: 2, Size: 3<<20 + 1, Duration: 200 * time.Millisecond, Tags: 250, ImageSize: 1 << 20, Concurrency: 4, Label: "fake", Round: 2}
	for _, sc := range []struct {
		cfg    Config
		metric string
	}{
		{Config{Scenario: "blob-push"}, "mb_per_s"},
		{Config{Scenario: "blob-push", Chunk: 1 << 20, Case: "blob-push-1MiB", Seed: 5}, "mb_per_s"},
		{Config{Scenario: "blob-pull", Verify: true}, "mb_per_s"},
		{Config{Scenario: "blob-pull", Seed: 3}, "mb_per_s"}, // pushes first
		{Config{Scenario: "manifest-get"}, "p99_ms"},
		{Config{Scenario: "pull-storm", Concurrency: 10}, "seconds"},
		{Config{Scenario: "small-push"}, "images_per_s"},
		{Config{Scenario: "tags-list"}, "req_per_s"},
		{Config{Scenario: "tags-list", PageSize: 40, Case: "tags-list-paged"}, "req_per_s"},
	} {
		cfg := base
		cfg.Scenario, cfg.Chunk, cfg.Case, cfg.Seed, cfg.Verify, cfg.PageSize = sc.cfg.Scenario, sc.cfg.Chunk, sc.cfg.Case, sc.cfg.Seed, sc.cfg.Verify, sc.cfg.PageSize
		if sc.cfg.Concurrency > 0 {
			cfg.Concurrency = sc.cfg.Concurrency
		}
		r, err := Run(ctx, c, cfg)
		if err != nil {
			t.Fatalf("%s: %v", cfg.Scenario, err)
		}
		if r.Ops == 0 || r.Metrics[sc.metric] <= 0 || r.Label != "fake" || r.Round != 2 || r.Summary == "" {
			t.Fatalf("%s: %+v", cfg.Scenario, r)
		}
		t.Log(r.Summary)
	}
	if got := len(f.manifests["wharf-bench/tags"]); got != 251 { // 250 tags + the digest
		t.Fatalf("tags repo has %d refs", got)
	}
	// Setup only measures nothing and is idempotent.
	cfg := base
	cfg.Scenario, cfg.SetupOnly = "tags-list", true
	puts := f.count("PUT manifests")
	if _, err := Run(ctx, c, cfg); err != nil {
		t.Fatal(err)
	}
	if f.count("PUT manifests") != puts {
		t.Fatal("tags-list setup re-tagged existing tags")
	}
	if _, err := Run(ctx, c, Config{Scenario: "nope"}); err == nil {
		t.Fatal("unknown scenario accepted")
	}
}

func TestTimedLoopBounds(t *testing.T) {
	var errs errCounter
	// Bounded by count.
	st := timedLoop(context.Background(), 4, time.Hour, 100, 10, &errs, func(context.Context, int, int64) error { return nil })
	if st.ok != 100 || len(st.latencies) != 100 {
		t.Fatalf("count bound: %+v", st.ok)
	}
	// Bounded by time.
	t0 := time.Now()
	st = timedLoop(context.Background(), 2, 50*time.Millisecond, 1<<40, 10, &errs, func(context.Context, int, int64) error {
		time.Sleep(time.Millisecond)
		return nil
	})
	if el := time.Since(t0); el > 2*time.Second || st.ok == 0 {
		t.Fatalf("time bound: %v %d", el, st.ok)
	}
	// Bounded by errors.
	st = timedLoop(context.Background(), 2, time.Hour, 1<<40, 5, &errs, func(context.Context, int, int64) error { return io.ErrUnexpectedEOF })
	if n := errs.n.Load(); n < 5 || n > 7 || st.ok != 0 {
		t.Fatalf("error bound: %d errors", n)
	}
}

func TestCompare(t *testing.T) {
	lines := `
{"scenario":"blob-push","case":"blob-push-mono","label":"wharf","metrics":{"mb_per_s":300}}
{"scenario":"blob-push","case":"blob-push-mono","label":"wharf","metrics":{"mb_per_s":500}}
{"scenario":"blob-push","case":"blob-push-mono","label":"wharf","metrics":{"mb_per_s":400}}
{"scenario":"blob-push","case":"blob-push-mono","label":"distribution","metrics":{"mb_per_s":300}}
{"scenario":"manifest-get","case":"manifest-get","label":"wharf","metrics":{"req_per_s":60000,"p99_ms":20}}
{"scenario":"manifest-get","case":"manifest-get","label":"distribution","metrics":{"req_per_s":5000,"p99_ms":30}}
{"scenario":"manifest-get","case":"manifest-get","label":"distribution","errors":3,"metrics":{"req_per_s":1}}
{"scenario":"pull-storm","case":"pull-storm","label":"wharf","metrics":{"seconds":5}}
{"scenario":"pull-storm","case":"pull-storm","label":"wharf","metrics":{"peak_rss_mib":120}}
{"scenario":"pull-storm","case":"pull-storm","label":"distribution","metrics":{"seconds":10,"peak_rss_mib":400}}
not json
`
	res, err := ReadResults(strings.NewReader(lines))
	if err != nil {
		t.Fatal(err)
	}
	rows := Compare(res, "wharf", "distribution", DefaultTargets)
	status := map[string]string{}
	for _, r := range rows {
		status[r.Title] = r.Status
	}
	for title, want := range map[string]string{
		"blob push, monolithic":   "PASS", // median 400 / 300 = 1.33
		"blob push, 16MiB chunks": "n/a",
		"manifest GET":            "PASS", // 12x; the line with errors is ignored
		"manifest GET p99":        "MISS", // 20 > 15
		"pull storm total time":   "PASS", // 0.5
		"pull storm peak RSS":     "PASS",
	} {
		if status[title] != want {
			t.Errorf("%s: %s, want %s", title, status[title], want)
		}
	}
	if rows[0].A != 400 || rows[0].NA != 3 || math.Abs(rows[0].Ratio-4.0/3) > 1e-9 {
		t.Errorf("row 0: %+v", rows[0])
	}
	var out bytes.Buffer
	if err := PrintTable(&out, rows, "wharf", "distribution"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "1.33x") || !strings.Contains(out.String(), "wharf<=15ms") {
		t.Errorf("table:\n%s", out.String())
	}
	t.Log("\n" + out.String())
}

func BenchmarkRandReader(b *testing.B) {
	buf := make([]byte, 256<<10)
	b.SetBytes(int64(len(buf)))
	r := NewRandReader(1, 1<<62)
	for b.Loop() {
		_, _ = r.Read(buf)
	}
}

func BenchmarkSHA256(b *testing.B) {
	buf := make([]byte, 256<<10)
	b.SetBytes(int64(len(buf)))
	h := sha256.New()
	for b.Loop() {
		h.Write(buf)
	}
}
