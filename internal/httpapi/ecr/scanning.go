package ecr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/scan"
	"github.com/wharfhq/wharf/internal/scan/gate"
	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/scan/suppress"
	"github.com/wharfhq/wharf/internal/scan/vulndb"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// This file serves image scanning: the registry scanning configuration,
// repository scanning settings, StartImageScan, DescribeImageScanFindings
// (basic and enhanced shapes) and the scan summary DescribeImages shows.
// Scans run in internal/scan, off the request path.

// defaultFindingsPage is DescribeImageScanFindings' page size without
// maxResults.
const defaultFindingsPage = 100

// scans returns the scan service, or ServerException when none is wired.
func (s *Server) scans() (*scan.Service, error) {
	if s.Scans == nil {
		return nil, &awsjson.Error{Code: "ServerException", Status: 500, Message: "image scanning is not configured"}
	}
	return s.Scans, nil
}

func apiScanningConfig(c scan.Config) *ecrapi.RegistryScanningConfiguration {
	st := ecrapi.ScanType(c.ScanType)
	out := &ecrapi.RegistryScanningConfiguration{ScanType: &st, Rules: []ecrapi.RegistryScanningRule{}}
	for _, r := range c.Rules {
		freq := ecrapi.ScanFrequency(r.ScanFrequency)
		out.Rules = append(out.Rules, ecrapi.RegistryScanningRule{ScanFrequency: &freq, RepositoryFilters: apiFilters(r.RepositoryFilters)})
	}
	return out
}

func apiFilters(fs []scan.Filter) []ecrapi.ScanningRepositoryFilter {
	out := []ecrapi.ScanningRepositoryFilter{}
	for _, f := range fs {
		ft := ecrapi.ScanningRepositoryFilterType(f.FilterType)
		out = append(out, ecrapi.ScanningRepositoryFilter{Filter: ecrapi.Ptr(f.Filter), FilterType: &ft})
	}
	return out
}

// PutRegistryScanningConfiguration sets the caller's registry scanning
// configuration.
func (s *Server) PutRegistryScanningConfiguration(ctx context.Context, in *ecrapi.PutRegistryScanningConfigurationInput) (*ecrapi.PutRegistryScanningConfigurationOutput, error) {
	account, err := s.authorizeOwnRegistry(ctx, "ecr:PutRegistryScanningConfiguration")
	if err != nil {
		return nil, err
	}
	sv, err := s.scans()
	if err != nil {
		return nil, err
	}
	c := scan.Config{ScanType: string(ecrapi.Deref(in.ScanType)), Rules: []scan.Rule{}}
	for _, r := range in.Rules {
		rule := scan.Rule{ScanFrequency: string(ecrapi.Deref(r.ScanFrequency)), RepositoryFilters: []scan.Filter{}}
		for _, f := range r.RepositoryFilters {
			rule.RepositoryFilters = append(rule.RepositoryFilters, scan.Filter{Filter: ecrapi.Deref(f.Filter), FilterType: string(ecrapi.Deref(f.FilterType))})
		}
		c.Rules = append(c.Rules, rule)
	}
	c, err = sv.SetConfig(ctx, account, c)
	if errors.Is(err, scan.ErrInvalidConfig) {
		return nil, ecrapi.NewInvalidParameterException(strings.TrimPrefix(err.Error(), scan.ErrInvalidConfig.Error()+": "))
	}
	if err != nil {
		return nil, err
	}
	return &ecrapi.PutRegistryScanningConfigurationOutput{RegistryScanningConfiguration: apiScanningConfig(c)}, nil
}

// GetRegistryScanningConfiguration returns the caller's registry scanning
// configuration (BASIC without rules when never set).
func (s *Server) GetRegistryScanningConfiguration(ctx context.Context, _ *ecrapi.GetRegistryScanningConfigurationInput) (*ecrapi.GetRegistryScanningConfigurationOutput, error) {
	account, err := s.authorizeOwnRegistry(ctx, "ecr:GetRegistryScanningConfiguration")
	if err != nil {
		return nil, err
	}
	c, err := scan.LoadConfig(ctx, s.Meta, account)
	if err != nil {
		return nil, err
	}
	return &ecrapi.GetRegistryScanningConfigurationOutput{RegistryId: ecrapi.Ptr(account), ScanningConfiguration: apiScanningConfig(c)}, nil
}

// BatchGetRepositoryScanningConfiguration returns how each named
// repository is scanned under the registry's configuration.
func (s *Server) BatchGetRepositoryScanningConfiguration(ctx context.Context, in *ecrapi.BatchGetRepositoryScanningConfigurationInput) (*ecrapi.BatchGetRepositoryScanningConfigurationOutput, error) {
	account := caller(ctx).AccountID
	c, err := scan.LoadConfig(ctx, s.Meta, account)
	if err != nil {
		return nil, err
	}
	out := &ecrapi.BatchGetRepositoryScanningConfigurationOutput{
		ScanningConfigurations: []ecrapi.RepositoryScanningConfiguration{},
		Failures:               []ecrapi.RepositoryScanningConfigurationFailure{},
	}
	seen := map[string]bool{}
	for _, name := range in.RepositoryNames {
		if seen[name] {
			continue
		}
		seen[name] = true
		r, _, err := s.repository(ctx, nil, &name, "ecr:BatchGetRepositoryScanningConfiguration")
		var nf *ecrapi.RepositoryNotFoundException
		if errors.As(err, &nf) {
			code := ecrapi.ScanningConfigurationFailureCodeRepositoryNotFound
			out.Failures = append(out.Failures, ecrapi.RepositoryScanningConfigurationFailure{
				RepositoryName: ecrapi.Ptr(name), FailureCode: &code,
				FailureReason: ecrapi.Ptr("The repository with name '" + name + "' does not exist in the registry with id '" + account + "'"),
			})
			continue
		}
		if err != nil {
			return nil, err
		}
		set := c.For(r)
		freq := ecrapi.ScanFrequency(set.ScanFrequency)
		out.ScanningConfigurations = append(out.ScanningConfigurations, ecrapi.RepositoryScanningConfiguration{
			RepositoryArn:      ecrapi.Ptr(s.repoARN(account, r.Name)),
			RepositoryName:     ecrapi.Ptr(r.Name),
			ScanOnPush:         ecrapi.Ptr(set.ScanOnPush),
			ScanFrequency:      &freq,
			AppliedScanFilters: apiFilters(set.AppliedFilters),
		})
	}
	return out, nil
}

// scanImageID resolves the imageId of a scan request to the image's
// digest, answering ECR's exceptions for a malformed or unknown one.
func (s *Server) scanImageID(ctx context.Context, r meta.Repository, account string, id *ecrapi.ImageIdentifier) (meta.Manifest, ecrapi.ImageIdentifier, error) {
	if id == nil {
		id = &ecrapi.ImageIdentifier{}
	}
	tag, d, code, reason := parseImageID(*id)
	if code != "" {
		return meta.Manifest{}, *id, ecrapi.NewInvalidParameterException("Invalid parameter at 'imageId' failed to satisfy constraint: '" + reason + "'")
	}
	m, code, _, err := s.findImage(ctx, r, tag, d)
	if err != nil {
		return meta.Manifest{}, *id, err
	}
	if code != "" {
		return meta.Manifest{}, *id, imageNotFound(*id, r.Name, account)
	}
	out := ecrapi.ImageIdentifier{ImageDigest: ecrapi.Ptr(m.Digest)}
	if tag != "" {
		out.ImageTag = ecrapi.Ptr(tag)
	}
	return m, out, nil
}

// StartImageScan queues a basic scan of an image and answers at once with
// IN_PROGRESS; the scan runs as a job. Basic scanning allows one scan per
// image per 24 hours, the scan on push included (LimitExceededException).
// Under enhanced scanning images are scanned on push or continuously and
// ECR refuses manual scans, except (Wharf) of an image whose scan
// eligibility lapsed: the scan brings it back, and counts as activity for
// the push duration.
func (s *Server) StartImageScan(ctx context.Context, in *ecrapi.StartImageScanInput) (*ecrapi.StartImageScanOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:StartImageScan")
	if err != nil {
		return nil, err
	}
	sv, err := s.scans()
	if err != nil {
		return nil, err
	}
	m, id, err := s.scanImageID(ctx, r, account, in.ImageId)
	if err != nil {
		return nil, err
	}
	c, err := sv.Config(ctx, account)
	if err != nil {
		return nil, err
	}
	req := scan.Request{Limited: true}
	if c.ScanType == scan.TypeEnhanced {
		// The one manual scan enhanced scanning takes: that of an image
		// whose continuous scanning lapsed, which it brings back.
		expired, err := s.eligibilityExpired(ctx, c, r, m.Digest)
		if err != nil {
			return nil, err
		}
		if !expired {
			return nil, ecrapi.NewValidationException("This feature is disabled")
		}
		req = scan.Request{}
	}
	if !scan.Scannable(m) {
		return nil, ecrapi.NewUnsupportedImageTypeException("The image is of a type that cannot be scanned.")
	}
	if !registry.Active(m) {
		return nil, ecrapi.NewImageArchivedException("The image is archived: restore it with UpdateImageStorageClass to STANDARD before scanning it.")
	}
	_, err = sv.Queue(ctx, r, m.Digest, req)
	switch {
	case errors.Is(err, meta.ErrScanLimit):
		return nil, ecrapi.NewLimitExceededException("The scan quota per image has been exceeded. Wait and try again.")
	case errors.Is(err, meta.ErrNotFound):
		return nil, imageNotFound(id, r.Name, account)
	case err != nil:
		return nil, err
	}
	st := ecrapi.ScanStatusInProgress
	return &ecrapi.StartImageScanOutput{
		RegistryId:      ecrapi.Ptr(account),
		RepositoryName:  ecrapi.Ptr(r.Name),
		ImageId:         &id,
		ImageScanStatus: &ecrapi.ImageScanStatus{Status: &st},
	}, nil
}

// eligibilityExpired reports whether the image's scan is presented as
// SCAN_ELIGIBILITY_EXPIRED.
func (s *Server) eligibilityExpired(ctx context.Context, c scan.Config, r meta.Repository, d string) (bool, error) {
	scans, err := scan.GetSummaries(ctx, s.Meta, r.ID, []string{d})
	if err != nil {
		return false, err
	}
	sc, ok := scans[d]
	if !ok {
		return false, nil
	}
	st, _ := scan.Status(sc, c, r)
	return st == scan.StatusExpired, nil
}

// findingsPage is the state of a DescribeImageScanFindings nextToken.
type findingsPage struct {
	Op      string `json:"o"`
	Account string `json:"a"`
	Repo    string `json:"r"`
	Digest  string `json:"d"`
	// Offset is how many findings were returned already.
	Offset int `json:"n"`
}

// DescribeImageScanFindings returns an image's scan status and findings,
// a page at a time: basic findings (ECR's own shape) under basic scanning,
// enhanced findings (Amazon Inspector's shape, with first/last observation
// and ACTIVE or CLOSED status) under enhanced scanning.
func (s *Server) DescribeImageScanFindings(ctx context.Context, in *ecrapi.DescribeImageScanFindingsInput) (*ecrapi.DescribeImageScanFindingsOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:DescribeImageScanFindings")
	if err != nil {
		return nil, err
	}
	m, id, err := s.scanImageID(ctx, r, account, in.ImageId)
	if err != nil {
		return nil, err
	}
	st := findingsPage{Op: "DescribeImageScanFindings", Account: account, Repo: r.Name, Digest: m.Digest}
	if tok := ecrapi.Deref(in.NextToken); tok != "" {
		var got findingsPage
		if err := s.Pager.Decode(tok, &got); err != nil {
			return nil, err
		}
		if got.Op != st.Op || got.Account != st.Account || got.Repo != st.Repo || got.Digest != st.Digest || got.Offset < 0 {
			return nil, awsjson.ErrInvalidNextToken
		}
		st = got
	}
	rep, err := scan.GetReport(ctx, s.Meta, r.ID, m.Digest)
	if errors.Is(err, scan.ErrNotScanned) {
		return nil, ecrapi.NewScanNotFoundException(fmt.Sprintf("Image scan does not exist for the image with '{imageDigest:'%s', imageTag:'%s'}' in the repository with name '%s' in the registry with id '%s'",
			m.Digest, orNull(id.ImageTag), r.Name, account))
	}
	if err != nil {
		return nil, err
	}
	c, err := scan.LoadConfig(ctx, s.Meta, account)
	if err != nil {
		return nil, err
	}
	status, desc := scan.Status(meta.ImageScan{Status: rep.Status, Description: rep.Description, ExpiredAt: rep.ExpiredAt}, c, r)
	sst := ecrapi.ScanStatus(status)
	out := &ecrapi.DescribeImageScanFindingsOutput{
		RegistryId:      ecrapi.Ptr(account),
		RepositoryName:  ecrapi.Ptr(r.Name),
		ImageId:         &id,
		ImageScanStatus: &ecrapi.ImageScanStatus{Status: &sst},
	}
	if desc != "" {
		out.ImageScanStatus.Description = ecrapi.Ptr(desc)
	}
	if rep.CompletedAt.IsZero() || rep.Status == meta.ScanFailed || rep.Status == meta.ScanUnsupportedImage {
		return out, nil
	}
	enhanced := c.ScanType == scan.TypeEnhanced
	counts, err := s.suppressFindings(ctx, account, r.Name, m.Digest, rep)
	if err != nil {
		return nil, err
	}
	findings := rep.Findings
	if !enhanced {
		findings = rep.Active() // basic scanning reports the current findings only
	}
	limit := imagePageLimit(in.MaxResults, defaultFindingsPage)
	start := min(st.Offset, len(findings))
	end := min(start+limit, len(findings))
	page := findings[start:end]
	if end < len(findings) {
		next := st
		next.Offset = end
		out.NextToken = ecrapi.Ptr(s.Pager.Encode(next))
	}
	out.ImageScanFindings = &ecrapi.ImageScanFindings{
		ImageScanCompletedAt:  awsjson.NewTimestamp(rep.CompletedAt),
		FindingSeverityCounts: apiCounts(counts),
	}
	if !rep.SourceUpdatedAt.IsZero() {
		out.ImageScanFindings.VulnerabilitySourceUpdatedAt = awsjson.NewTimestamp(rep.SourceUpdatedAt)
	}
	if enhanced {
		tags, err := s.Meta.ListTagsOf(ctx, r.ID, m.Digest)
		if err != nil {
			return nil, err
		}
		img := imageRef{account: account, repo: r.Name, digest: m.Digest, tags: tags, pushedAt: awsjson.NewTimestamp(m.PushedAt)}
		out.ImageScanFindings.EnhancedFindings = make([]ecrapi.EnhancedImageScanFinding, len(page))
		for i := range page {
			out.ImageScanFindings.EnhancedFindings[i] = s.enhancedFinding(img, &page[i])
		}
	} else {
		out.ImageScanFindings.Findings = make([]ecrapi.ImageScanFinding, len(page))
		for i := range page {
			out.ImageScanFindings.Findings[i] = basicFinding(&page[i])
		}
	}
	return out, nil
}

func orNull(p *string) string {
	if p == nil || *p == "" {
		return "null"
	}
	return *p
}

func apiCounts(counts map[string]int) map[ecrapi.FindingSeverity]int32 {
	out := map[ecrapi.FindingSeverity]int32{}
	for k, v := range counts {
		out[ecrapi.FindingSeverity(k)] = int32(v)
	}
	return out
}

// findingDescription is a finding's description: the advisory's details,
// or its summary.
func findingDescription(f *scan.Finding) string {
	if f.Details != "" {
		return f.Details
	}
	return f.Summary
}

// attrValue fits an attribute value into the model's 256 characters.
func attrValue(v string) string {
	if len(v) <= 256 {
		return v
	}
	cut := 253
	for cut > 0 && (v[cut]&0xc0) == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return v[:cut] + "..."
}

// cvssKey is the attribute key prefix of a CVSS version, as ECR spells it
// (CVSS2_VECTOR, CVSS3_SCORE, ...).
func cvssKey(version string) string {
	major, _, _ := strings.Cut(version, ".")
	if major == "" {
		major = "3"
	}
	return "CVSS" + major
}

// basicFinding maps a finding to ECR's basic ImageScanFinding.
func basicFinding(f *scan.Finding) ecrapi.ImageScanFinding {
	sev := ecrapi.FindingSeverity(f.Severity)
	out := ecrapi.ImageScanFinding{Name: ecrapi.Ptr(f.ID), Severity: &sev}
	if d := findingDescription(f); d != "" {
		out.Description = ecrapi.Ptr(d)
	}
	if f.URI != "" {
		out.Uri = ecrapi.Ptr(f.URI)
	}
	attr := func(k, v string) {
		if v != "" {
			out.Attributes = append(out.Attributes, ecrapi.Attribute{Key: ecrapi.Ptr(k), Value: ecrapi.Ptr(attrValue(v))})
		}
	}
	attr("package_version", f.Package.Version)
	attr("package_name", f.Package.Name)
	if f.Vector != "" {
		attr(cvssKey(f.CVSSVersion)+"_VECTOR", f.Vector)
	}
	if f.Score > 0 {
		attr(cvssKey(f.CVSSVersion)+"_SCORE", strconv.FormatFloat(f.Score, 'f', -1, 64))
	}
	if out.Attributes == nil {
		out.Attributes = []ecrapi.Attribute{}
	}
	return out
}

// imageRef is the image an enhanced finding's resource names.
type imageRef struct {
	account, repo, digest string
	tags                  []string
	pushedAt              *awsjson.Timestamp
}

// packageManager names an ecosystem as Amazon Inspector's PackageManager
// does.
func packageManager(p inventory.Package) string {
	if p.Kind == inventory.KindOS {
		return "OS"
	}
	switch p.Ecosystem {
	case "Go":
		return "GOBINARY"
	case "npm":
		return "NODEPKG"
	case "PyPI":
		return "PYTHONPKG"
	case "Maven":
		return "JAR"
	case "crates.io":
		return "CARGO"
	case "RubyGems":
		return "GEMSPEC"
	case "Packagist":
		return "COMPOSER"
	case "NuGet":
		return "NUGET"
	}
	return strings.ToUpper(p.Ecosystem)
}

// vulnerablePackage maps a package; an OS package's version is split into
// epoch, version and release as Inspector reports them.
func vulnerablePackage(f *scan.Finding) ecrapi.VulnerablePackage {
	p := f.Package
	vp := ecrapi.VulnerablePackage{Name: ecrapi.Ptr(p.Name), PackageManager: ecrapi.Ptr(packageManager(p))}
	version := p.Version
	if p.Kind == inventory.KindOS {
		if e, rest, ok := strings.Cut(version, ":"); ok {
			if n, err := strconv.ParseInt(e, 10, 32); err == nil {
				vp.Epoch, version = ecrapi.Ptr(int32(n)), rest
			}
		}
		if i := strings.LastIndexByte(version, '-'); i > 0 {
			vp.Release, version = ecrapi.Ptr(version[i+1:]), version[:i]
		}
	}
	vp.Version = ecrapi.Ptr(version)
	if p.Arch != "" {
		vp.Arch = ecrapi.Ptr(p.Arch)
	}
	if len(p.Locations) > 0 {
		vp.FilePath = ecrapi.Ptr(p.Locations[0])
	}
	if f.FixedVersion != "" {
		vp.FixedInVersion = ecrapi.Ptr(f.FixedVersion)
	}
	return vp
}

// inspectorSeverity maps a severity to Inspector's (UNTRIAGED for none).
func inspectorSeverity(s string) string {
	if s == string(ecrapi.FindingSeverityUndefined) || s == "" {
		return "UNTRIAGED"
	}
	return s
}

// enhancedFinding maps a finding to Amazon Inspector's shape.
func (s *Server) enhancedFinding(img imageRef, f *scan.Finding) ecrapi.EnhancedImageScanFinding {
	h := sha256.Sum256([]byte(img.account + "\x00" + img.repo + "\x00" + img.digest + "\x00" + f.Key()))
	pkg := vulnerablePackage(f)
	details := &ecrapi.PackageVulnerabilityDetails{
		VulnerabilityId:        ecrapi.Ptr(f.ID),
		VulnerablePackages:     []ecrapi.VulnerablePackage{pkg},
		Source:                 ecrapi.Ptr("OSV"),
		VendorSeverity:         ecrapi.Ptr(f.Severity),
		ReferenceUrls:          []string{},
		RelatedVulnerabilities: f.Aliases,
		Cvss:                   []ecrapi.CvssScore{},
	}
	if f.URI != "" {
		details.SourceUrl = ecrapi.Ptr(f.URI)
		details.ReferenceUrls = append(details.ReferenceUrls, f.URI)
	}
	if !f.Published.IsZero() {
		details.VendorCreatedAt = awsjson.NewTimestamp(f.Published)
	}
	if !f.Modified.IsZero() {
		details.VendorUpdatedAt = awsjson.NewTimestamp(f.Modified)
	}
	out := ecrapi.EnhancedImageScanFinding{
		AwsAccountId:                ecrapi.Ptr(img.account),
		FindingArn:                  ecrapi.Ptr("arn:aws:inspector2:" + s.Region + ":" + img.account + ":finding/" + hex.EncodeToString(h[:16])),
		FirstObservedAt:             awsjson.NewTimestamp(f.FirstObservedAt),
		LastObservedAt:              awsjson.NewTimestamp(f.LastObservedAt),
		UpdatedAt:                   awsjson.NewTimestamp(f.UpdatedAt),
		PackageVulnerabilityDetails: details,
		Severity:                    ecrapi.Ptr(inspectorSeverity(f.Severity)),
		Status:                      ecrapi.Ptr(f.Status),
		Title:                       ecrapi.Ptr(f.ID + " - " + f.Package.Name),
		Type:                        ecrapi.Ptr("PACKAGE_VULNERABILITY"),
		FixAvailable:                ecrapi.Ptr("NO"),
	}
	if d := findingDescription(f); d != "" {
		out.Description = ecrapi.Ptr(d)
	}
	text := "None Provided"
	if f.FixedVersion != "" {
		out.FixAvailable = ecrapi.Ptr("YES")
		text = "Upgrade " + f.Package.Name + " to version " + f.FixedVersion + " or later."
	}
	out.Remediation = &ecrapi.Remediation{Recommendation: &ecrapi.Recommendation{Text: ecrapi.Ptr(text)}}
	if f.Score > 0 {
		version := f.CVSSVersion
		details.Cvss = append(details.Cvss, ecrapi.CvssScore{BaseScore: ecrapi.Ptr(f.Score), ScoringVector: ecrapi.Ptr(f.Vector),
			Source: ecrapi.Ptr("OSV"), Version: ecrapi.Ptr(version)})
		out.Score = ecrapi.Ptr(f.Score)
		out.ScoreDetails = &ecrapi.ScoreDetails{Cvss: &ecrapi.CvssScoreDetails{Score: ecrapi.Ptr(f.Score), ScoreSource: ecrapi.Ptr("OSV"),
			ScoringVector: ecrapi.Ptr(f.Vector), Version: ecrapi.Ptr(version), Adjustments: []ecrapi.CvssScoreAdjustment{}}}
	}
	image := &ecrapi.AwsEcrContainerImageDetails{
		ImageHash:      ecrapi.Ptr(img.digest),
		Registry:       ecrapi.Ptr(img.account),
		RepositoryName: ecrapi.Ptr(img.repo),
		PushedAt:       img.pushedAt,
	}
	if len(img.tags) > 0 {
		image.ImageTags = img.tags
	}
	if len(f.Platforms) > 0 {
		image.Platform = ecrapi.Ptr(strings.Join(f.Platforms, ","))
		if len(f.Platforms) == 1 {
			if _, arch, ok := strings.Cut(f.Platforms[0], "/"); ok {
				image.Architecture = ecrapi.Ptr(arch)
			}
		}
	}
	out.Resources = []ecrapi.Resource{{
		Type:    ecrapi.Ptr("AWS_ECR_CONTAINER_IMAGE"),
		Id:      ecrapi.Ptr(s.repoARN(img.account, img.repo) + "/" + img.digest),
		Details: &ecrapi.ResourceDetails{AwsEcrContainerImage: image},
	}}
	return out
}

// scanSummaries returns the scan status and findings summary of a page of
// images, in one store round trip (per 500 images).
func (s *Server) scanSummaries(ctx context.Context, r meta.Repository, page []meta.Image) (map[string]scanSummary, error) {
	if len(page) == 0 {
		return nil, nil
	}
	digests := make([]string, len(page))
	for i, im := range page {
		digests[i] = im.Digest
	}
	scans, err := scan.GetSummaries(ctx, s.Meta, r.ID, digests)
	if err != nil || len(scans) == 0 {
		return nil, err
	}
	c, err := scan.LoadConfig(ctx, s.Meta, r.AccountID)
	if err != nil {
		return nil, err
	}
	sup, err := s.pageSuppressions(ctx, r, scans)
	if err != nil {
		return nil, err
	}
	out := make(map[string]scanSummary, len(scans))
	for d, sc := range scans {
		status, desc := scan.Status(sc, c, r)
		st := ecrapi.ScanStatus(status)
		sum := scanSummary{status: &ecrapi.ImageScanStatus{Status: &st}}
		if desc != "" {
			sum.status.Description = ecrapi.Ptr(desc)
		}
		if !sc.CompletedAt.IsZero() && (sc.Status == meta.ScanComplete || sc.Status == meta.ScanInProgress) {
			counts, err := sup.counts(ctx, s, r, sc)
			if err != nil {
				return nil, err
			}
			sum.summary = &ecrapi.ImageScanFindingsSummary{
				ImageScanCompletedAt:  awsjson.NewTimestamp(sc.CompletedAt),
				FindingSeverityCounts: apiCounts(counts),
			}
			if !sc.SourceUpdatedAt.IsZero() {
				sum.summary.VulnerabilitySourceUpdatedAt = awsjson.NewTimestamp(sc.SourceUpdatedAt)
			}
		}
		out[d] = sum
	}
	return out, nil
}

// pageSuppressions are the suppressions that may apply to a page of
// images, found in two queries whatever the page's size: the stored ones
// of the repository and registry, and which images have VEX documents
// attached (the gate would look each image's referrers up).
type pageSuppressions struct {
	on     bool
	stored []meta.Suppression
	vex    map[string]bool
	now    time.Time
}

func (s *Server) pageSuppressions(ctx context.Context, r meta.Repository, scans map[string]meta.ImageScan) (pageSuppressions, error) {
	if s.Gate == nil {
		return pageSuppressions{}, nil
	}
	p := pageSuppressions{on: true, now: s.now()}
	var withFindings []string
	for d, sc := range scans {
		if len(sc.Counts) > 0 {
			withFindings = append(withFindings, d)
		}
	}
	if len(withFindings) == 0 {
		return p, nil
	}
	var err error
	if p.stored, err = s.Meta.ListSuppressions(ctx, meta.SuppressionFilter{AccountID: r.AccountID, Repository: r.Name,
		IncludeRegistryWide: true, ActiveAt: p.now}); err != nil {
		return p, err
	}
	p.vex, err = s.Meta.ReferredSubjects(ctx, r.ID, withFindings, gate.VEXArtifactTypes)
	return p, err
}

// counts are an image's severity counts without its suppressed findings,
// as gates count them; its findings are decoded only when a suppression
// may apply to it.
func (p pageSuppressions) counts(ctx context.Context, s *Server, r meta.Repository, sc meta.ImageScan) (map[string]int, error) {
	if !p.on || len(sc.Counts) == 0 {
		return sc.Counts, nil
	}
	load := func(ctx context.Context) ([]vulndb.Finding, error) {
		rep, err := scan.GetReport(ctx, s.Meta, r.ID, sc.Digest)
		if err != nil {
			return nil, err
		}
		return activeVulns(rep), nil
	}
	if p.vex[sc.Digest] {
		return s.Gate.Summary(ctx, r.AccountID, r.Name, sc.Digest, sc.Counts, load)
	}
	var sups []meta.Suppression
	for _, x := range p.stored {
		if x.Digest == "" || x.Digest == sc.Digest {
			sups = append(sups, x)
		}
	}
	if len(sups) == 0 {
		return sc.Counts, nil
	}
	findings, err := load(ctx)
	if err != nil {
		return nil, err
	}
	active, _ := suppress.Apply(findings, sups, sc.Digest, p.now)
	return gate.Counts(active), nil
}

// scanSummary is what DescribeImages shows of an image's scan.
type scanSummary struct {
	status  *ecrapi.ImageScanStatus
	summary *ecrapi.ImageScanFindingsSummary
}

// StatusSuppressed is the status Amazon Inspector gives a finding that a
// suppression rule hides; Wharf's suppressions do the same.
const StatusSuppressed = "SUPPRESSED"

// suppressFindings applies the image's suppressions (stored and from
// attached OpenVEX documents) to the report: a suppressed active finding
// leaves the basic findings and the counts, and enhanced findings show it
// as SUPPRESSED. It returns the counts of what stays active.
func (s *Server) suppressFindings(ctx context.Context, account, repo, digest string, rep *scan.Report) (map[string]int, error) {
	if s.Gate == nil {
		return rep.Counts, nil
	}
	all := activeVulns(rep)
	if len(all) == 0 {
		return rep.Counts, nil
	}
	active, suppressed, err := s.Gate.Apply(ctx, account, repo, digest, all)
	if err != nil || len(suppressed) == 0 {
		return rep.Counts, err
	}
	keep := make(map[string]bool, len(active))
	for _, f := range active {
		keep[(&scan.Finding{Finding: f}).Key()] = true
	}
	for i := range rep.Findings {
		f := &rep.Findings[i]
		if f.Status == scan.StatusActive && !keep[f.Key()] {
			f.Status = StatusSuppressed
		}
	}
	return gate.Counts(active), nil
}

// activeVulns are the report's active findings as matched.
func activeVulns(rep *scan.Report) []vulndb.Finding {
	act := rep.Active()
	out := make([]vulndb.Finding, len(act))
	for i := range act {
		out[i] = act[i].Finding
	}
	return out
}
