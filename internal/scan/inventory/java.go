package inventory

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/java/archive/metadata"
	"github.com/google/osv-scalibr/extractor/filesystem/language/java/groupid"
	scalibrinv "github.com/google/osv-scalibr/inventory"
	"github.com/google/osv-scalibr/plugin"
	"github.com/google/osv-scalibr/purl"
)

// javaArchives catalogues Maven artifacts in Java archives (JAR, WAR, EAR
// and the like, nested ones included, as in Spring Boot's BOOT-INF/lib).
//
// It stands in for osv-scalibr's java/archive extractor, whose package
// imports a deps.dev client (gRPC, OAuth2, cloud metadata) for pom.xml
// parsing this needs not: that would add 16 MB and ~110 packages to the
// wharf binary. It reads what identifies an artifact:
//   - every META-INF/maven/<group>/<artifact>/pom.properties (a shaded JAR
//     carries one per bundled artifact), the authoritative source;
//   - failing those, META-INF/MANIFEST.MF with a version and a
//     groupId-shaped identifier, else the file name ("guava-33.0.0-jre.jar"),
//     the group from osv-scalibr's table of known artifacts or the
//     manifest.
type javaArchives struct {
	tempDir string
}

const (
	javaMaxDepth = 4
	// javaMaxOpened bounds the bytes of one archive's nested archives,
	// which are decompressed to temporary files (a zip needs random
	// access): a zip bomb ends there.
	javaMaxOpened = 1 << 30
)

var javaArchiveExts = []string{".jar", ".war", ".ear", ".jmod", ".par", ".sar", ".jpi", ".hpi", ".lpkg", ".nar"}

func isJavaArchive(p string) bool {
	ext := path.Ext(p)
	for _, e := range javaArchiveExts {
		if strings.EqualFold(ext, e) {
			return true
		}
	}
	return false
}

func (javaArchives) Name() string                       { return "wharf/java/archive" }
func (javaArchives) Version() int                       { return 0 }
func (javaArchives) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

func (javaArchives) FileRequired(api filesystem.FileAPI) bool { return isJavaArchive(api.Path()) }

func (j javaArchives) Extract(ctx context.Context, in *filesystem.ScanInput) (scalibrinv.Inventory, error) {
	ra, ok := in.Reader.(io.ReaderAt)
	if !ok {
		return scalibrinv.Inventory{}, errors.New("java archive: reader is not an io.ReaderAt")
	}
	opened := int64(0)
	pkgs, err := j.archive(ctx, ra, in.Info.Size(), in.Path, 1, &opened)
	return scalibrinv.Inventory{Packages: pkgs}, err
}

func (j javaArchives) archive(ctx context.Context, ra io.ReaderAt, size int64, name string, depth int, opened *int64) ([]*extractor.Package, error) {
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return nil, fmt.Errorf("java archive %s: %w", name, err)
	}
	var pkgs, fromPom []*extractor.Package
	var mf map[string]string
	var errs []error
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		switch {
		case path.Base(f.Name) == "pom.properties" && strings.HasPrefix(f.Name, "META-INF/maven/"):
			props, err := readProperties(f)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s!%s: %w", name, f.Name, err))
				continue
			}
			g, a, v := props["groupId"], props["artifactId"], props["version"]
			if g != "" && a != "" && v != "" {
				fromPom = append(fromPom, mavenPackage(g, a, v, name))
			}
		case strings.EqualFold(f.Name, "META-INF/MANIFEST.MF"):
			if mf, err = readManifest(f); err != nil {
				errs = append(errs, fmt.Errorf("%s!%s: %w", name, f.Name, err))
			}
		case isJavaArchive(f.Name) && depth < javaMaxDepth && f.UncompressedSize64 > 0:
			if *opened+int64(f.UncompressedSize64) > javaMaxOpened {
				errs = append(errs, fmt.Errorf("%s!%s: nested archives over %d bytes, not read", name, f.Name, javaMaxOpened))
				continue
			}
			sub, err := j.nested(ctx, f, name+"!/"+f.Name, depth+1, opened)
			if err != nil {
				errs = append(errs, err)
			}
			pkgs = append(pkgs, sub...)
		}
	}
	if len(fromPom) > 0 {
		pkgs = append(pkgs, fromPom...)
	} else if p := fromManifestOrName(mf, name); p != nil {
		pkgs = append(pkgs, p)
	}
	return pkgs, errors.Join(errs...)
}

// nested reads an archive inside an archive from a temporary copy.
func (j javaArchives) nested(ctx context.Context, f *zip.File, name string, depth int, opened *int64) ([]*extractor.Package, error) {
	tmp, err := os.CreateTemp(j.tempDir, "wharf-jar-*")
	if err != nil {
		return nil, err
	}
	defer tmp.Close()
	_ = os.Remove(tmp.Name()) // unlinked: gone with the descriptor
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	left := javaMaxOpened - *opened
	n, err := io.Copy(tmp, io.LimitReader(rc, left+1))
	rc.Close()
	*opened += n
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if n > left {
		return nil, fmt.Errorf("%s: nested archives over %d bytes, not read", name, int64(javaMaxOpened))
	}
	return j.archive(ctx, tmp, n, name, depth, opened)
}

func mavenPackage(group, artifact, version, loc string) *extractor.Package {
	return &extractor.Package{
		Name:     group + ":" + artifact,
		Version:  version,
		PURLType: purl.TypeMaven,
		Metadata: &metadata.Metadata{GroupID: group, ArtifactID: artifact},
		Location: extractor.LocationFromPath(loc),
	}
}

// A Maven version starts with a digit ("1.2.3", "33.0.0-jre", "2.0.M1").
var javaVersionRE = regexp.MustCompile(`^[0-9][0-9A-Za-z.\-_+]*$`)

// groupIDRE is a Java package-like name ("org.apache.commons").
var groupIDRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z_][A-Za-z0-9_\-]*)+$`)

func fromManifestOrName(mf map[string]string, name string) *extractor.Package {
	base := path.Base(name)
	stem := strings.TrimSuffix(base, path.Ext(base))
	artifact, version := "", ""
	// "commons-io-2.15.1" -> ("commons-io", "2.15.1"): the first "-"
	// followed by a version.
	for i := 0; i < len(stem); i++ {
		if stem[i] == '-' && javaVersionRE.MatchString(stem[i+1:]) {
			artifact, version = stem[:i], stem[i+1:]
			break
		}
	}
	group := ""
	if mf != nil {
		if v := firstWord(mf["Implementation-Version"], mf["Bundle-Version"], mf["Specification-Version"]); version == "" && javaVersionRE.MatchString(v) {
			version = v
		}
		if artifact == "" {
			artifact = firstWord(mf["Implementation-Title"], mf["Bundle-Name"])
			if strings.ContainsAny(artifact, " $%") {
				artifact = ""
			}
		}
		for _, k := range []string{"Implementation-Vendor-Id", "Automatic-Module-Name", "Bundle-SymbolicName"} {
			g, _, _ := strings.Cut(mf[k], ";")
			if groupIDRE.MatchString(strings.TrimSpace(g)) {
				group = strings.TrimSpace(g)
				break
			}
		}
	}
	if artifact == "" || version == "" {
		return nil
	}
	if g := groupid.FromArtifactID(artifact); g != "" {
		group = g
	}
	if group == "" {
		// osv-scalibr's convention for an unknown group: the artifact's
		// name, so the package is listed even if no advisory will match.
		group = artifact
	}
	return mavenPackage(group, artifact, version, name)
}

func firstWord(vals ...string) string {
	for _, v := range vals {
		if f := strings.Fields(v); len(f) > 0 {
			return f[0]
		}
	}
	return ""
}

// The files read from an archive are small; these bound hostile ones.
const maxJavaMetaFile = 1 << 20

func readZipEntry(f *zip.File, limit int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("over %d bytes", limit)
	}
	return b, nil
}

// readProperties parses a Java .properties file's key=value lines (the
// subset Maven writes: no continuations, escapes or ':' separators).
func readProperties(f *zip.File) (map[string]string, error) {
	b, err := readZipEntry(f, maxJavaMetaFile)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m, sc.Err()
}

// readManifest parses a JAR manifest's main section: "Name: value" lines,
// a line starting with a space continuing the previous value, ended by the
// first blank line.
func readManifest(f *zip.File) (map[string]string, error) {
	b, err := readZipEntry(f, maxJavaMetaFile)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	last := ""
	for _, line := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			if len(m) > 0 {
				break
			}
			continue
		}
		if line[0] == ' ' && last != "" {
			m[last] += line[1:]
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		last = strings.TrimSpace(k)
		m[last] = strings.TrimSpace(v)
	}
	return m, nil
}
