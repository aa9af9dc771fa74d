package vulndb

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Benchmark data is generated at run time (never committed): advisories
// shaped like osv.dev's (distribution records with release-scoped
// ecosystems, source names, dpkg/apk versions, CVSS vectors, urgencies,
// Ubuntu's version lists; language records with SemVer, PEP 440 and Maven
// versions), spread over the packages with a Zipf law so that a few
// packages (think linux, openssl, glibc) carry hundreds of advisories,
// and inventories drawing their packages with the same skew.

type benchEco struct {
	eco      string // advisory ecosystem
	base     string
	names    int
	weight   int
	version  func(k int) string
	distro   inventory.Distro
	kind     string
	advNames []string
}

func benchEcosystems() []*benchEco {
	return []*benchEco{
		{eco: "Debian:12", base: "Debian", names: 20000, weight: 40, kind: inventory.KindOS,
			distro:  inventory.Distro{ID: "debian", VersionID: "12"},
			version: func(k int) string { return fmt.Sprintf("%d.%d.%d-%d+deb12u%d", 1+k/40, k/8%5, k%8, 1+k%3, 1+k%2) }},
		{eco: "Ubuntu:22.04:LTS", base: "Ubuntu", names: 20000, weight: 15, kind: inventory.KindOS,
			distro:  inventory.Distro{ID: "ubuntu", VersionID: "22.04"},
			version: func(k int) string { return fmt.Sprintf("%d.%d.%d-0ubuntu%d.%d", 1+k/40, k/8%5, k%8, 1+k%2, k%7) }},
		{eco: "Alpine:v3.19", base: "Alpine", names: 50000, weight: 10, kind: inventory.KindOS,
			distro:  inventory.Distro{ID: "alpine", VersionID: "3.19.1"},
			version: func(k int) string { return fmt.Sprintf("%d.%d.%d-r%d", 1+k/40, k/8%5, k%8, k%4) }},
		{eco: "npm", base: "npm", names: 50000, weight: 10, kind: inventory.KindLanguage,
			version: func(k int) string { return fmt.Sprintf("%d.%d.%d", k/16, k/4%4, k%4) }},
		{eco: "PyPI", base: "PyPI", names: 20000, weight: 10, kind: inventory.KindLanguage,
			version: func(k int) string {
				if k%5 == 4 {
					return fmt.Sprintf("%d.%d.%drc1", k/16, k/4%4, k%4)
				}
				return fmt.Sprintf("%d.%d.%d", k/16, k/4%4, k%4)
			}},
		{eco: "Go", base: "Go", names: 10000, weight: 5, kind: inventory.KindLanguage,
			version: func(k int) string { return fmt.Sprintf("0.%d.%d", k/4, k%4) }},
		{eco: "Maven", base: "Maven", names: 20000, weight: 10, kind: inventory.KindLanguage,
			version: func(k int) string {
				if k%6 == 5 {
					return fmt.Sprintf("%d.%d-beta%d", k/12, k/3%4, k%3)
				}
				return fmt.Sprintf("%d.%d.%d", k/12, k/3%4, k%3)
			}},
	}
}

func (e *benchEco) name(i int) string {
	switch e.base {
	case "Go":
		return fmt.Sprintf("github.com/org%d/mod%d", i%97, i)
	case "Maven":
		return fmt.Sprintf("org.example%d:artifact%d", i%53, i)
	}
	return fmt.Sprintf("%s-pkg%d", strings.ToLower(e.base), i)
}

const benchVersions = 120 // versions in each package's history

// benchCorpus is the generated data, built once per process.
type benchCorpus struct {
	ecos []*benchEco
	raw  [][]byte
}

var (
	corpusOnce sync.Once
	corpus     benchCorpus
)

func benchAdvisories(n int) benchCorpus {
	corpusOnce.Do(func() {
		r := rand.New(rand.NewPCG(1, 2))
		ecos := benchEcosystems()
		for _, e := range ecos {
			e.advNames = make([]string, e.names)
			for i := range e.advNames {
				e.advNames[i] = e.name(i)
			}
		}
		total := 0
		for _, e := range ecos {
			total += e.weight
		}
		zipfs := map[*benchEco]*rand.Zipf{}
		for _, e := range ecos {
			zipfs[e] = rand.NewZipf(r, 1.1, 30, uint64(e.names-1))
		}
		details := strings.Repeat("A crafted input makes the parser read past the end of a buffer. ", 5)
		vectors := []string{
			"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
			"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N",
			"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H",
			"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
		}
		urgencies := []string{"low", "medium", "high", "unimportant", "not yet assigned"}
		var out [][]byte
		for i := range n {
			w := r.IntN(total)
			var e *benchEco
			for _, c := range ecos {
				if w < c.weight {
					e = c
					break
				}
				w -= c.weight
			}
			name := e.advNames[zipfs[e].Uint64()]
			fix := 1 + r.IntN(benchVersions-1)
			intro := "0"
			if r.IntN(4) == 0 {
				intro = e.version(r.IntN(fix))
			}
			var b strings.Builder
			var id string
			switch e.base {
			case "Debian":
				id = fmt.Sprintf("DEBIAN-CVE-2024-%06d", i)
			case "Ubuntu":
				id = fmt.Sprintf("UBUNTU-CVE-2024-%06d", i)
			case "Alpine":
				id = fmt.Sprintf("ALPINE-CVE-2024-%06d", i)
			default:
				id = fmt.Sprintf("GHSA-%04x-%04x-%04x", i>>8, i&0xff, i*7&0xffff)
			}
			fmt.Fprintf(&b, `{"schema_version":"1.6.0","id":%q,"modified":"2024-%02d-%02dT10:00:00Z","published":"2024-01-01T00:00:00Z",`,
				id, 1+i%12, 1+i%28)
			if e.kind == inventory.KindOS {
				fmt.Fprintf(&b, `"upstream":["CVE-2024-%06d"],`, i)
			} else {
				fmt.Fprintf(&b, `"aliases":["CVE-2024-%06d"],`, i)
			}
			fmt.Fprintf(&b, `"details":%q,"severity":[{"type":"%s","score":%q}],"affected":[`, details,
				map[bool]string{true: "CVSS_V4", false: "CVSS_V3"}[i%4 == 3], vectors[i%4])
			fmt.Fprintf(&b, `{"package":{"ecosystem":%q,"name":%q},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":%q},{"fixed":%q}]}]`,
				e.eco, name, intro, e.version(fix))
			switch e.base {
			case "Debian":
				fmt.Fprintf(&b, `,"ecosystem_specific":{"urgency":%q}`, urgencies[i%len(urgencies)])
			case "Ubuntu":
				b.WriteString(`,"versions":[`)
				for k := max(0, fix-10); k < fix; k++ {
					if k > max(0, fix-10) {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, "%q", e.version(k))
				}
				b.WriteString(`]`)
			}
			b.WriteString(`}]`)
			if e.kind == inventory.KindLanguage {
				fmt.Fprintf(&b, `,"database_specific":{"severity":"HIGH","github_reviewed":true}`)
			}
			b.WriteString(`,"references":[{"type":"ADVISORY","url":"https://example.org/advisory"}]}`)
			out = append(out, []byte(b.String()))
		}
		corpus = benchCorpus{ecos: ecos, raw: out}
	})
	return corpus
}

// inventoryGen produces inventories of 100-300 distinct packages: one
// distribution's (Debian, Ubuntu or Alpine) and up to 100 language ones.
// Popular packages (those with the most advisories) are the most likely
// to be in an image, and versions lean recent, as in a registry where
// images are rebuilt now and then.
type inventoryGen struct {
	r    *rand.Rand
	ecos []*benchEco
	vers [][]string // per ecosystem: the version strings, shared
	seen map[string]bool
	buf  []inventory.Package
}

func newInventoryGen(c benchCorpus, seed uint64) *inventoryGen {
	g := &inventoryGen{r: rand.New(rand.NewPCG(seed, 7)), ecos: c.ecos, seen: map[string]bool{}}
	for _, e := range c.ecos {
		vs := make([]string, benchVersions)
		for k := range vs {
			vs[k] = e.version(k)
		}
		g.vers = append(g.vers, vs)
	}
	return g
}

func (g *inventoryGen) next() *inventory.Inventory {
	total := 100 + g.r.IntN(201)
	nLang := g.r.IntN(min(100, total))
	osIdx := g.r.IntN(3) // Debian, Ubuntu, Alpine
	inv := &inventory.Inventory{Distro: g.ecos[osIdx].distro}
	g.buf = g.buf[:0]
	clear(g.seen)
	add := func(i int) {
		e := g.ecos[i]
		u := g.r.Float64()
		n := e.advNames[int(float64(e.names)*u*u*u)]
		if g.seen[n] {
			return
		}
		g.seen[n] = true
		k := benchVersions - 1 - int(benchVersions*g.r.Float64()*g.r.Float64())
		p := inventory.Package{Name: n, Version: g.vers[i][max(0, k)], Ecosystem: e.base, Kind: e.kind}
		if e.kind == inventory.KindOS && g.r.IntN(3) == 0 {
			// A binary package of that source.
			p.SourceName, p.Name = n, "lib"+n
		}
		g.buf = append(g.buf, p)
	}
	for range total - nLang {
		add(osIdx)
	}
	for range nLang {
		add(3 + g.r.IntN(len(g.ecos)-3))
	}
	inv.Packages = g.buf
	return inv
}

const benchAdvisoryCount = 50_000

func benchDB(b *testing.B) (*DB, benchCorpus) {
	c := benchAdvisories(benchAdvisoryCount)
	bl := newBuilder()
	for _, raw := range c.raw {
		a, err := parseAdvisory(raw)
		if err != nil {
			b.Fatal(err)
		}
		bl.add(a)
	}
	db, err := bl.finish(b.Context(), nil)
	if err != nil {
		b.Fatal(err)
	}
	return db, c
}

// BenchmarkMatch10kInventories matches 10,000 generated inventories
// (100-300 packages each) against 50,000 advisories: one op is the whole
// rescan after an import. "serial" uses one goroutine; "parallel" one per
// CPU, as a rescan job would.
func BenchmarkMatch10kInventories(b *testing.B) {
	db, c := benchDB(b)
	const inventories = 10_000
	b.Run("serial", func(b *testing.B) {
		var findings, pkgs int
		for b.Loop() {
			g := newInventoryGen(c, 42)
			findings, pkgs = 0, 0
			for range inventories {
				inv := g.next()
				pkgs += len(inv.Packages)
				findings += len(db.Match(inv))
			}
		}
		b.ReportMetric(float64(findings)/inventories, "findings/inventory")
		b.ReportMetric(float64(pkgs)/inventories, "packages/inventory")
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/inventories, "µs/inventory")
	})
	b.Run("parallel", func(b *testing.B) {
		workers := runtime.GOMAXPROCS(0)
		for b.Loop() {
			var wg sync.WaitGroup
			var left atomic.Int64
			left.Store(inventories)
			for w := range workers {
				wg.Go(func() {
					g := newInventoryGen(c, uint64(100+w))
					for left.Add(-1) >= 0 {
						db.Match(g.next())
					}
				})
			}
			wg.Wait()
		}
		b.ReportMetric(float64(workers), "goroutines")
	})
}

// BenchmarkLoad builds the index from 50,000 advisories in the store
// (SQLite, as imported: compressed), i.e. what a server does at start
// and after each import.
func BenchmarkLoad(b *testing.B) {
	c := benchAdvisories(benchAdvisoryCount)
	st := openStore(b)
	start := time.Now()
	batch := make([]meta.VulnAdvisory, 0, 500)
	for i, raw := range c.raw {
		a, err := parseAdvisory(raw)
		if err != nil {
			b.Fatal(err)
		}
		batch = append(batch, meta.VulnAdvisory{ID: a.rec.ID, Modified: a.modified, Source: "bench",
			Packages: a.packageKeys(), Data: compress(raw)})
		if len(batch) == cap(batch) || i == len(c.raw)-1 {
			if _, err := st.PutVulnAdvisories(b.Context(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.Logf("stored %d advisories in %v", len(c.raw), time.Since(start).Round(time.Millisecond))
	b.ResetTimer()
	var db *DB
	for b.Loop() {
		var err error
		if db, err = Load(b.Context(), st); err != nil {
			b.Fatal(err)
		}
	}
	if db.Count() != benchAdvisoryCount {
		b.Fatalf("loaded %d", db.Count())
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "MiB-heap-after")
	runtime.KeepAlive(db)
}

// BenchmarkIndex is Load without the store: parsing and ranking only.
func BenchmarkIndex(b *testing.B) {
	c := benchAdvisories(benchAdvisoryCount)
	for b.Loop() {
		bl := newBuilder()
		for _, raw := range c.raw {
			a, err := parseAdvisory(raw)
			if err != nil {
				b.Fatal(err)
			}
			bl.add(a)
		}
		if _, err := bl.finish(b.Context(), nil); err != nil {
			b.Fatal(err)
		}
	}
}
