package inventory

import "testing"

// For the external tests (package inventory_test), which match
// inventories against advisories with vulndb (which imports this package).

var (
	EL8Packages  = el8Packages
	SUSEPackages = susePackages
)

// ExtractImage extracts a one-layer image of os-release and files (path →
// content; executable mode for all).
func ExtractImage(t testing.TB, osRelease string, files map[string][]byte) *Inventory {
	es := []entry{file("etc/os-release", osRelease)}
	for p, b := range files {
		es = append(es, binFile(p, b, 0o755))
	}
	return extract(t, layers(t, gzipped, es))
}

const (
	AlmaLinux8OSRelease   = almaLinux8OSRelease
	AmazonLinux2OSRelease = amazonLinux2OSRelease
	Leap155OSRelease      = leap155OSRelease
	SLES155OSRelease      = sles155OSRelease
	DebianOSRelease       = debianOSRelease
)
