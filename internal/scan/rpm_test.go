package scan_test

import (
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/scan"
	"github.com/wharfhq/wharf/internal/scan/inventory/invtest"
	"github.com/wharfhq/wharf/internal/store/meta"
)

const (
	slesOSRelease = `NAME="SLES"
VERSION="15-SP5"
VERSION_ID="15.5"
PRETTY_NAME="SUSE Linux Enterprise Server 15 SP5"
ID="sles"
ID_LIKE="suse"
CPE_NAME="cpe:/o:suse:sles:15:sp5"
`
	alma8OSRelease = `NAME="AlmaLinux"
VERSION="8.9 (Midnight Oncilla)"
ID="almalinux"
VERSION_ID="8.9"
PRETTY_NAME="AlmaLinux 8.9 (Midnight Oncilla)"
`
)

// A pushed SLES image (NDB rpm database, from the tests' own NDB writer)
// with a cargo-auditable Rust binary, and an AlmaLinux 8 one (Berkeley DB
// database, written by db_load): the scan reports the advisories fixed
// above the installed versions, not those fixed at them, nor the binary's
// own crate.
func TestScanRPMAndRustImages(t *testing.T) {
	suse := invtest.NDB{}.Write(invtest.RPMHeaders(t,
		invtest.RPMPkg{Name: "libopenssl1_1", Version: "1.1.1l", Release: "150500.17.25.1", License: "OpenSSL", Source: "openssl-1_1"},
		invtest.RPMPkg{Name: "libz1", Version: "1.2.13", Release: "150500.4.3.1", Epoch: 3, License: "Zlib", Source: "zlib"},
	))
	el8 := invtest.BerkeleyDB(t, invtest.RPMHeaders(t,
		invtest.RPMPkg{Name: "openssl-libs", Version: "1.1.1k", Release: "9.el8_7", Epoch: 1, License: "OpenSSL", Source: "openssl"},
		invtest.RPMPkg{Name: "bash", Version: "4.4.20", Release: "4.el8_6", License: "GPLv3+"},
	))
	rust := invtest.RustAuditable(t, invtest.AuditableDeps)

	e := newEnv(t)
	at := e.now.Add(-time.Hour)
	const slesEco = "SUSE:Linux Enterprise Server 15 SP5"
	e.importAdvisories(t, "rpm",
		advisory{ID: "SUSE-SU-2026:0001-1", Ecosystem: slesEco, Package: "libopenssl1_1", Fixed: "1.1.1l-150500.17.28.1", Vector: cvssHigh, Modified: at},
		advisory{ID: "SUSE-SU-2026:0002-1", Ecosystem: slesEco, Package: "libz1", Fixed: "3:1.2.13-150500.4.3.1", Vector: cvssCritical, Modified: at},
		advisory{ID: "SUSE-SU-2026:0003-1", Ecosystem: "SUSE:Linux Enterprise Server 15 SP4", Package: "zlib", Fixed: "3:1.2.13-150500.9.1", Vector: cvssCritical, Modified: at},
		advisory{ID: "RUSTSEC-2021-0003", Ecosystem: "crates.io", Package: "smallvec", Fixed: "1.6.1", Vector: cvssCritical, Modified: at},
		advisory{ID: "RUSTSEC-2026-0002", Ecosystem: "crates.io", Package: "hello", Fixed: "99.0.0", Vector: cvssCritical, Modified: at},
		advisory{ID: "ALSA-2026:0001", Ecosystem: "AlmaLinux:8", Package: "openssl-libs", Fixed: "1:1.1.1k-12.el8_9", Vector: cvssMedium, Modified: at},
		advisory{ID: "ALSA-2026:0002", Ecosystem: "AlmaLinux:8", Package: "bash", Fixed: "4.4.20-4.el8_6", Vector: cvssHigh, Modified: at},
	)
	for _, c := range []struct {
		name   string
		layers [][]byte
		want   []string
	}{
		{"sles", [][]byte{
			tarGz(t, map[string][]byte{"etc/os-release": []byte(slesOSRelease), "usr/lib/sysimage/rpm/Packages.db": suse}),
			tarGz(t, map[string][]byte{"usr/local/bin/hello": rust}),
		}, []string{
			"RUSTSEC-2021-0003 smallvec 1.6.0 CRITICAL 1.6.1 ACTIVE",
			"SUSE-SU-2026:0001-1 libopenssl1_1 1.1.1l-150500.17.25.1 HIGH 1.1.1l-150500.17.28.1 ACTIVE",
		}},
		{"almalinux", [][]byte{
			tarGz(t, map[string][]byte{"etc/os-release": []byte(alma8OSRelease), "var/lib/rpm/Packages": el8}),
		}, []string{
			"ALSA-2026:0001 openssl-libs 1:1.1.1k-9.el8_7 MEDIUM 1:1.1.1k-12.el8_9 ACTIVE",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.repo(t, "team/"+c.name, true)
			d := string(digest.FromBytes(e.putImage(t, r, "v1", "linux/amd64", c.layers...)))
			if n := e.runJobs(t, scan.KindScan); n != 1 {
				t.Fatalf("ran %d scan jobs", n)
			}
			rep := e.report(t, r, d)
			if rep.Status != meta.ScanComplete {
				t.Fatalf("report %+v", rep)
			}
			got := lines(rep.Findings)
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Fatalf("findings:\n got  %q\n want %q", got, c.want)
			}
		})
	}
}
