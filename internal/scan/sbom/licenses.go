package sbom

import "strings"

// spdxIDs are SPDX license list identifiers common in container images,
// keyed by lower case. A license outside this list is still written, as a
// named license (CycloneDX) or a LicenseRef (SPDX): validators reject an
// unknown identifier, never a name.
var spdxIDs = func() map[string]string {
	m := map[string]string{}
	for _, id := range []string{
		"0BSD", "AFL-3.0", "AGPL-3.0-only", "AGPL-3.0-or-later", "Apache-1.1", "Apache-2.0", "APSL-2.0",
		"Artistic-1.0", "Artistic-1.0-Perl", "Artistic-2.0", "BlueOak-1.0.0", "BSD-1-Clause", "BSD-2-Clause",
		"BSD-3-Clause", "BSD-4-Clause", "BSL-1.0", "bzip2-1.0.6", "CC-BY-3.0", "CC-BY-4.0", "CC-BY-SA-3.0",
		"CC-BY-SA-4.0", "CC0-1.0", "CDDL-1.0", "CDDL-1.1", "CPL-1.0", "curl", "EPL-1.0", "EPL-2.0",
		"EUPL-1.2", "FSFAP", "FSFUL", "FSFULLR", "FTL", "GFDL-1.2-or-later", "GFDL-1.3-only",
		"GFDL-1.3-or-later", "GPL-1.0-or-later", "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only",
		"GPL-3.0-or-later", "HPND", "ICU", "IJG", "ISC", "LGPL-2.0-only", "LGPL-2.0-or-later",
		"LGPL-2.1-only", "LGPL-2.1-or-later", "LGPL-3.0-only", "LGPL-3.0-or-later", "Libpng", "libtiff",
		"MIT", "MIT-0", "MPL-1.1", "MPL-2.0", "MS-PL", "NCSA", "OFL-1.1", "OpenSSL", "PHP-3.01",
		"PostgreSQL", "PSF-2.0", "Python-2.0", "Ruby", "Sleepycat", "TCL", "Unicode-DFS-2016",
		"Unicode-3.0", "Unlicense", "UPL-1.0", "Vim", "W3C", "WTFPL", "X11", "Zlib", "ZPL-2.1",
	} {
		m[strings.ToLower(id)] = id
	}
	// Debian copyright-format short names and other spellings seen in
	// package metadata, mapped to their identifiers.
	for k, v := range map[string]string{
		"gpl-1+": "GPL-1.0-or-later", "gpl-2": "GPL-2.0-only", "gpl-2+": "GPL-2.0-or-later",
		"gpl-3": "GPL-3.0-only", "gpl-3+": "GPL-3.0-or-later", "lgpl-2": "LGPL-2.0-only",
		"lgpl-2+": "LGPL-2.0-or-later", "lgpl-2.1": "LGPL-2.1-only", "lgpl-2.1+": "LGPL-2.1-or-later",
		"lgpl-3": "LGPL-3.0-only", "lgpl-3+": "LGPL-3.0-or-later", "agpl-3": "AGPL-3.0-only",
		"agpl-3+": "AGPL-3.0-or-later", "gfdl-1.3+": "GFDL-1.3-or-later", "expat": "MIT",
		"apache-2": "Apache-2.0", "mpl-2": "MPL-2.0", "zlib/libpng": "Zlib",
		"gpl-2.0+": "GPL-2.0-or-later", "gpl-3.0+": "GPL-3.0-or-later", "lgpl-2.1-or-later": "LGPL-2.1-or-later",
		"gpl-2.0": "GPL-2.0-only", "gpl-3.0": "GPL-3.0-only", "lgpl-2.1-only": "LGPL-2.1-only",
		"lgpl-2.0+": "LGPL-2.0-or-later", "lgpl-3.0+": "LGPL-3.0-or-later",
	} {
		m[k] = v
	}
	return m
}()

// spdxID returns the SPDX identifier of a license name, if it has one.
func spdxID(name string) (string, bool) {
	id, ok := spdxIDs[strings.ToLower(strings.TrimSpace(name))]
	return id, ok
}

// licenseRef is a valid SPDX LicenseRef for a license without an
// identifier: "LicenseRef-" and the name, with every character outside
// [A-Za-z0-9.-] replaced by '-' and then a short hash of the name so two
// names differing only in those characters stay distinct.
func licenseRef(name string) string {
	var b strings.Builder
	b.WriteString("LicenseRef-")
	changed := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isAlnum(c) || c == '.' || c == '-' {
			b.WriteByte(c)
		} else {
			b.WriteByte('-')
			changed = true
		}
	}
	if changed || name == "" {
		b.WriteString("-" + shortHash(name)[:8])
	}
	return b.String()
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
