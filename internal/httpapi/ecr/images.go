package ecr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/manifest"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// This file serves the image operations of the ECR API: ListImages,
// DescribeImages, BatchGetImage, BatchDeleteImage, PutImage and
// ListImageReferrers. They read and write through the registry core, so
// what one plane (ECR or /v2/) writes the other sees byte for byte.

const (
	// defaultImagePage is ECR's page size when maxResults is not given.
	defaultImagePage = 100
	// defaultReferrerPage is ListImageReferrers' (maxResults is 1..50).
	defaultReferrerPage = 20
	// maxImageScan bounds the manifests one listing call reads while a
	// tagStatus filter skips most of them; the page then ends early with a
	// nextToken, as ECR's may.
	maxImageScan = 10000
)

// Failure reasons, worded as ECR words them.
const (
	reasonNotFound       = "Requested image not found"
	reasonMissingID      = "Invalid request parameters: both tag and digest cannot be null"
	reasonInvalidDigest  = "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'"
	reasonInvalidTag     = "Invalid request parameters: image tag should satisfy the regex '[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}'"
	reasonTagNotDigest   = "Invalid request parameters: given tag and digest do not match"
	reasonReferencedList = "Requested image referenced by manifest list"
)

// imagePage is the state of a ListImages/DescribeImages/ListImageReferrers
// nextToken: the listing it continues and where.
type imagePage struct {
	Op      string `json:"o"`
	Account string `json:"a"`
	Repo    string `json:"r"`
	Filter  string `json:"f,omitempty"`
	// After is the last digest whose entries were all returned.
	After string `json:"d,omitempty"`
	// Cur and Skip: the first Skip entries of image Cur (one per tag for
	// ListImages) were returned already.
	Cur  string `json:"c,omitempty"`
	Skip int    `json:"k,omitempty"`
}

// decodePage reads a nextToken, checking that it continues this listing.
func (s *Server) decodePage(token *string, want imagePage) (imagePage, error) {
	if token == nil || *token == "" {
		return want, nil
	}
	var st imagePage
	if err := s.Pager.Decode(*token, &st); err != nil {
		return imagePage{}, err
	}
	if st.Op != want.Op || st.Account != want.Account || st.Repo != want.Repo || st.Filter != want.Filter {
		return imagePage{}, awsjson.ErrInvalidNextToken
	}
	return st, nil
}

// imageTagFilter returns whether an image passes filter.tagStatus.
func imageTagFilter(ts *ecrapi.TagStatus) func(meta.Image) bool {
	switch ecrapi.Deref(ts) {
	case ecrapi.TagStatusTagged:
		return func(im meta.Image) bool { return len(im.Tags) > 0 }
	case ecrapi.TagStatusUntagged:
		return func(im meta.Image) bool { return len(im.Tags) == 0 }
	}
	return func(meta.Image) bool { return true }
}

// imageStatusFilter returns whether an image passes filter.imageStatus:
// without one, only ACTIVE images are listed, as ECR lists them.
func imageStatusFilter(st *ecrapi.ImageStatusFilter) func(meta.Image) bool {
	want := ecrapi.Deref(st)
	switch want {
	case ecrapi.ImageStatusFilterAny:
		return func(meta.Image) bool { return true }
	case "":
		want = ecrapi.ImageStatusFilterActive
	}
	return func(im meta.Image) bool { return registry.StatusOf(im.Manifest) == string(want) }
}

// imageFilter combines the tag and status filters of a listing.
func imageFilter(ts *ecrapi.TagStatus, is *ecrapi.ImageStatusFilter) func(meta.Image) bool {
	tags, status := imageTagFilter(ts), imageStatusFilter(is)
	return func(im meta.Image) bool { return status(im) && tags(im) }
}

func imagePageLimit(max *int32, def int) int {
	if max != nil && *max > 0 {
		return int(*max)
	}
	return def
}

// ListImages lists the image ids of a repository: one entry per tag
// (digest and tag), and the digest alone for an untagged image.
func (s *Server) ListImages(ctx context.Context, in *ecrapi.ListImagesInput) (*ecrapi.ListImagesOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:ListImages")
	if err != nil {
		return nil, err
	}
	var ts *ecrapi.TagStatus
	var is *ecrapi.ImageStatusFilter
	if in.Filter != nil {
		ts, is = in.Filter.TagStatus, in.Filter.ImageStatus
	}
	st, err := s.decodePage(in.NextToken, imagePage{Op: "ListImages", Account: account, Repo: r.Name,
		Filter: string(ecrapi.Deref(ts)) + "/" + string(ecrapi.Deref(is))})
	if err != nil {
		return nil, err
	}
	out := &ecrapi.ListImagesOutput{ImageIds: []ecrapi.ImageIdentifier{}}
	limit := imagePageLimit(in.MaxResults, defaultImagePage)
	next, err := s.scanImages(ctx, r, st, limit, imageFilter(ts, is),
		func(im meta.Image) int { return max(1, len(im.Tags)) },
		func(im meta.Image, j int) { out.ImageIds = append(out.ImageIds, imageIDs(im)[j]) })
	if err != nil {
		return nil, err
	}
	if next != nil {
		out.NextToken = ecrapi.Ptr(s.Pager.Encode(*next))
	}
	return out, nil
}

// scanImages walks a repository's images from a page state: each image
// that keep accepts yields entries(im) entries, handed to emit one by one,
// until limit entries have been emitted. It returns the state of the next
// page, or nil when the listing is complete. A page never scans more than
// maxImageScan images, so a filter that matches little still answers fast.
func (s *Server) scanImages(ctx context.Context, r meta.Repository, st imagePage, limit int,
	keep func(meta.Image) bool, entries func(meta.Image) int, emit func(im meta.Image, j int)) (*imagePage, error) {
	batch := max(limit+1, defaultImagePage)
	emitted := 0
	done, after := st.After, st.After
	for scanned := 0; ; {
		ims, err := s.Meta.ListImages(ctx, r.ID, after, batch)
		if err != nil {
			return nil, err
		}
		for _, im := range ims {
			scanned++
			after = im.Digest
			if !keep(im) {
				done = im.Digest
				continue
			}
			first := 0
			if im.Digest == st.Cur {
				first = min(st.Skip, entries(im))
			}
			for j := first; j < entries(im); j++ {
				if emitted == limit {
					next := st
					next.After, next.Cur, next.Skip = done, im.Digest, j
					return &next, nil
				}
				emit(im, j)
				emitted++
			}
			done = im.Digest
		}
		if len(ims) < batch {
			return nil, nil
		}
		if scanned >= maxImageScan {
			next := st
			next.After, next.Cur, next.Skip = done, "", 0
			return &next, nil
		}
	}
}

// imageIDs are an image's ListImages entries.
func imageIDs(im meta.Image) []ecrapi.ImageIdentifier {
	if len(im.Tags) == 0 {
		return []ecrapi.ImageIdentifier{{ImageDigest: ecrapi.Ptr(im.Digest)}}
	}
	ids := make([]ecrapi.ImageIdentifier, len(im.Tags))
	for i, t := range im.Tags {
		ids[i] = ecrapi.ImageIdentifier{ImageDigest: ecrapi.Ptr(im.Digest), ImageTag: ecrapi.Ptr(t)}
	}
	return ids
}

// DescribeImages describes the images of a repository, or the images
// named by imageIds.
func (s *Server) DescribeImages(ctx context.Context, in *ecrapi.DescribeImagesInput) (*ecrapi.DescribeImagesOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:DescribeImages")
	if err != nil {
		return nil, err
	}
	if len(in.ImageIds) > 0 {
		if ecrapi.Deref(in.NextToken) != "" || in.MaxResults != nil {
			return nil, ecrapi.NewInvalidParameterException("Invalid parameter: nextToken and maxResults cannot be used when imageIds are specified")
		}
		return s.describeImageIDs(ctx, r, account, in.ImageIds)
	}
	var ts *ecrapi.TagStatus
	var is *ecrapi.ImageStatusFilter
	if in.Filter != nil {
		ts, is = in.Filter.TagStatus, in.Filter.ImageStatus
	}
	st, err := s.decodePage(in.NextToken, imagePage{Op: "DescribeImages", Account: account, Repo: r.Name,
		Filter: string(ecrapi.Deref(ts)) + "/" + string(ecrapi.Deref(is))})
	if err != nil {
		return nil, err
	}
	out := &ecrapi.DescribeImagesOutput{ImageDetails: []ecrapi.ImageDetail{}}
	limit := imagePageLimit(in.MaxResults, defaultImagePage)
	var page []meta.Image
	next, err := s.scanImages(ctx, r, st, limit, imageFilter(ts, is),
		func(meta.Image) int { return 1 },
		func(im meta.Image, _ int) { page = append(page, im) })
	if err != nil {
		return nil, err
	}
	if next != nil {
		out.NextToken = ecrapi.Ptr(s.Pager.Encode(*next))
	}
	facts, err := s.imageFacts(ctx, r, page)
	if err != nil {
		return nil, err
	}
	scans, err := s.scanSummaries(ctx, r, page)
	if err != nil {
		return nil, err
	}
	out.ImageDetails = make([]ecrapi.ImageDetail, len(page))
	for i, im := range page {
		out.ImageDetails[i] = imageDetail(account, r.Name, im, facts, scans)
	}
	return out, nil
}

// describeImageIDs describes the named images: all of them, or
// ImageNotFoundException for the first that does not exist.
func (s *Server) describeImageIDs(ctx context.Context, r meta.Repository, account string, ids []ecrapi.ImageIdentifier) (*ecrapi.DescribeImagesOutput, error) {
	var page []meta.Image
	seen := map[string]bool{}
	for _, id := range ids {
		tag, d, code, reason := parseImageID(id)
		if code != "" {
			return nil, ecrapi.NewInvalidParameterException("Invalid parameter at 'imageIds' failed to satisfy constraint: '" + reason + "'")
		}
		m, code, _, err := s.findImage(ctx, r, tag, d)
		if err != nil {
			return nil, err
		}
		if code != "" {
			return nil, imageNotFound(id, r.Name, account)
		}
		if seen[m.Digest] {
			continue
		}
		seen[m.Digest] = true
		im, err := s.Meta.GetImage(ctx, r.ID, m.Digest)
		if errors.Is(err, meta.ErrNotFound) {
			return nil, imageNotFound(id, r.Name, account)
		}
		if err != nil {
			return nil, err
		}
		page = append(page, im)
	}
	facts, err := s.imageFacts(ctx, r, page)
	if err != nil {
		return nil, err
	}
	scans, err := s.scanSummaries(ctx, r, page)
	if err != nil {
		return nil, err
	}
	out := &ecrapi.DescribeImagesOutput{ImageDetails: make([]ecrapi.ImageDetail, len(page))}
	for i, im := range page {
		out.ImageDetails[i] = imageDetail(account, r.Name, im, facts, scans)
	}
	return out, nil
}

func imageNotFound(id ecrapi.ImageIdentifier, repo, account string) error {
	orNull := func(p *string) string {
		if p == nil || *p == "" {
			return "null"
		}
		return *p
	}
	return ecrapi.NewImageNotFoundException(fmt.Sprintf("The image with imageId {imageDigest:'%s', imageTag:'%s'} does not exist within the repository with name '%s' in the registry with id '%s'",
		orNull(id.ImageDigest), orNull(id.ImageTag), repo, account))
}

// imageDetail maps an image to ECR's ImageDetail.
func imageDetail(account, repo string, im meta.Image, facts map[string]manifestFacts, scans map[string]scanSummary) ecrapi.ImageDetail {
	status := ecrapi.ImageStatus(registry.StatusOf(im.Manifest))
	d := ecrapi.ImageDetail{
		RegistryId:             ecrapi.Ptr(account),
		RepositoryName:         ecrapi.Ptr(repo),
		ImageDigest:            ecrapi.Ptr(im.Digest),
		ImagePushedAt:          awsjson.NewTimestamp(im.PushedAt),
		ImageManifestMediaType: ecrapi.Ptr(im.MediaType),
		ImageStatus:            &status,
	}
	if len(im.Tags) > 0 {
		d.ImageTags = im.Tags
	}
	if f, ok := facts[im.Digest]; ok {
		d.ImageSizeInBytes = ecrapi.Ptr(f.size)
		if f.configMediaType != "" {
			d.ArtifactMediaType = ecrapi.Ptr(f.configMediaType)
		}
	} else if im.ArtifactType != "" {
		d.ArtifactMediaType = ecrapi.Ptr(im.ArtifactType)
	}
	if !im.LastPullAt.IsZero() {
		d.LastRecordedPullTime = awsjson.NewTimestamp(im.LastPullAt)
	}
	if im.Subject != "" {
		d.SubjectManifestDigest = ecrapi.Ptr(im.Subject)
	}
	if !im.ArchivedAt.IsZero() {
		d.LastArchivedAt = awsjson.NewTimestamp(im.ArchivedAt)
	}
	if !im.ActivatedAt.IsZero() {
		d.LastActivatedAt = awsjson.NewTimestamp(im.ActivatedAt)
	}
	if sc, ok := scans[im.Digest]; ok {
		d.ImageScanStatus, d.ImageScanFindingsSummary = sc.status, sc.summary
	}
	return d
}

// manifestFacts is what DescribeImages derives from a manifest's content.
// It depends on the content alone, so it is cached by digest for every
// repository: a digest names the same bytes everywhere.
type manifestFacts struct {
	// size is the sum of the config and layer sizes; for an index, the
	// largest size of its children (ECR's imageSizeInBytes of a manifest
	// list), filled in once they are known.
	size            int64
	configMediaType string
	// children of an index while its size is not known yet.
	children []string
	pending  bool
}

// factsCache holds manifestFacts by digest. Entries never go stale; the
// map is cleared when it grows past maxFacts.
var factsCache = struct {
	sync.RWMutex
	m map[string]manifestFacts
}{m: map[string]manifestFacts{}}

const maxFacts = 200000

func cachedFacts(d string) (manifestFacts, bool) {
	factsCache.RLock()
	f, ok := factsCache.m[d]
	factsCache.RUnlock()
	return f, ok
}

func storeFacts(d string, f manifestFacts) {
	factsCache.Lock()
	if len(factsCache.m) >= maxFacts {
		clear(factsCache.m)
	}
	factsCache.m[d] = f
	factsCache.Unlock()
}

// parseFacts reads sizes out of a stored (so already validated) manifest.
func parseFacts(mediaType string, content []byte) manifestFacts {
	var raw struct {
		Config *struct {
			MediaType string `json:"mediaType"`
			Size      int64  `json:"size"`
		} `json:"config"`
		Layers []struct {
			Size int64 `json:"size"`
		} `json:"layers"`
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	if json.Unmarshal(content, &raw) != nil {
		return manifestFacts{}
	}
	var f manifestFacts
	if mediaType == manifest.OCIIndex || mediaType == manifest.DockerManifestList || (raw.Config == nil && raw.Manifests != nil) {
		for _, m := range raw.Manifests {
			f.children = append(f.children, m.Digest)
		}
		f.pending = len(f.children) > 0
		return f
	}
	if raw.Config != nil {
		f.size = raw.Config.Size
		f.configMediaType = raw.Config.MediaType
	}
	for _, l := range raw.Layers {
		f.size += l.Size
	}
	return f
}

// imageFacts returns the facts of the page's images (and resolves index
// sizes from their children). Facts come from the cache; the content of
// the few that miss is read through the registry core, concurrently.
func (s *Server) imageFacts(ctx context.Context, r meta.Repository, page []meta.Image) (map[string]manifestFacts, error) {
	out := make(map[string]manifestFacts, len(page))
	var missing []string
	mediaTypes := map[string]string{}
	for _, im := range page {
		if f, ok := cachedFacts(im.Digest); ok {
			out[im.Digest] = f
			continue
		}
		if im.Content != nil {
			f := parseFacts(im.MediaType, im.Content)
			storeFacts(im.Digest, f)
			out[im.Digest] = f
			continue
		}
		missing = append(missing, im.Digest)
		mediaTypes[im.Digest] = im.MediaType
	}
	if err := s.loadFacts(ctx, r, missing, out); err != nil {
		return nil, err
	}
	// Indexes: the largest child (children of nested indexes resolved the
	// same way, to a bounded depth).
	for depth := 0; depth < 3; depth++ {
		var need []string
		for _, f := range out {
			if !f.pending {
				continue
			}
			for _, c := range f.children {
				if _, ok := out[c]; ok {
					continue
				}
				if cf, ok := cachedFacts(c); ok {
					out[c] = cf
					continue
				}
				need = append(need, c)
			}
		}
		slices.Sort(need)
		need = slices.Compact(need)
		if err := s.loadFacts(ctx, r, need, out); err != nil {
			return nil, err
		}
		progress := false
		for d, f := range out {
			if !f.pending {
				continue
			}
			var size int64
			resolved := true
			for _, c := range f.children {
				cf, ok := out[c]
				if !ok || cf.pending {
					resolved = false
					break
				}
				size = max(size, cf.size)
			}
			if resolved {
				f.size, f.children, f.pending = size, nil, false
				out[d] = f
				storeFacts(d, f)
				progress = true
			}
		}
		if !progress && len(need) == 0 {
			break
		}
	}
	return out, nil
}

// loadFacts reads the manifests (with a few concurrent reads) and records
// their facts. A manifest deleted meanwhile is skipped.
func (s *Server) loadFacts(ctx context.Context, r meta.Repository, digests []string, out map[string]manifestFacts) error {
	if len(digests) == 0 {
		return nil
	}
	type result struct {
		d   string
		f   manifestFacts
		err error
	}
	res := make([]result, len(digests))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, d := range digests {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			m, err := s.Registry.GetManifest(ctx, r, names.Reference{Digest: digest.Digest(d)})
			if err != nil {
				res[i] = result{d: d, err: err}
				return
			}
			res[i] = result{d: d, f: parseFacts(m.MediaType, m.Content)}
		}()
	}
	wg.Wait()
	for _, x := range res {
		switch {
		case x.err == nil:
			storeFacts(x.d, x.f)
			out[x.d] = x.f
		case registry.CodeOf(x.err) == registry.CodeManifestUnknown:
		default:
			return x.err
		}
	}
	return nil
}

// parseImageID checks an image id; code is set when it is unusable.
func parseImageID(id ecrapi.ImageIdentifier) (tag string, d digest.Digest, code ecrapi.ImageFailureCode, reason string) {
	tag, ds := ecrapi.Deref(id.ImageTag), ecrapi.Deref(id.ImageDigest)
	if tag == "" && ds == "" {
		return "", "", ecrapi.ImageFailureCodeMissingDigestAndTag, reasonMissingID
	}
	if ds != "" {
		var err error
		if d, err = names.ParseDigest(ds); err != nil {
			return "", "", ecrapi.ImageFailureCodeInvalidImageDigest, reasonInvalidDigest
		}
	}
	if tag != "" && !names.ValidTag(tag) {
		return "", "", ecrapi.ImageFailureCodeInvalidImageTag, reasonInvalidTag
	}
	return tag, d, "", ""
}

// findImage resolves a checked image id to its manifest; code is set
// (ImageNotFound, ImageTagDoesNotMatchDigest) when there is none.
func (s *Server) findImage(ctx context.Context, r meta.Repository, tag string, d digest.Digest) (meta.Manifest, ecrapi.ImageFailureCode, string, error) {
	ref := names.Reference{Tag: tag}
	if tag == "" {
		ref = names.Reference{Digest: d}
	}
	m, err := s.Registry.GetManifest(ctx, r, ref)
	switch {
	case registry.CodeOf(err) == registry.CodeManifestUnknown:
		return meta.Manifest{}, ecrapi.ImageFailureCodeImageNotFound, reasonNotFound, nil
	case err != nil:
		return meta.Manifest{}, "", "", err
	case tag != "" && d != "" && m.Digest != string(d):
		return meta.Manifest{}, ecrapi.ImageFailureCodeImageTagDoesNotMatchDigest, reasonTagNotDigest, nil
	}
	return m, "", "", nil
}

func imageFailure(id ecrapi.ImageIdentifier, code ecrapi.ImageFailureCode, reason string) ecrapi.ImageFailure {
	return ecrapi.ImageFailure{ImageId: &ecrapi.ImageIdentifier{ImageDigest: id.ImageDigest, ImageTag: id.ImageTag},
		FailureCode: &code, FailureReason: ecrapi.Ptr(reason)}
}

// sameImageID reports whether two image ids name the same thing.
func sameImageID(a, b ecrapi.ImageIdentifier) bool {
	return ecrapi.Deref(a.ImageDigest) == ecrapi.Deref(b.ImageDigest) && ecrapi.Deref(a.ImageTag) == ecrapi.Deref(b.ImageTag)
}

// BatchGetImage returns the manifests of the named images, exactly as
// stored, and records a pull of each.
func (s *Server) BatchGetImage(ctx context.Context, in *ecrapi.BatchGetImageInput) (*ecrapi.BatchGetImageOutput, error) {
	if gated, err := s.pullGated(ctx, in.RegistryId, in.RepositoryName); err != nil || gated {
		if err != nil {
			return nil, err
		}
		return s.batchGetGated(ctx, in)
	}
	r, account, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:BatchGetImage")
	if err != nil {
		return nil, err
	}
	out := &ecrapi.BatchGetImageOutput{Images: []ecrapi.Image{}, Failures: []ecrapi.ImageFailure{}}
	err = s.eachImage(ctx, r, in.ImageIds, &out.Failures, s.batchGetOne(ctx, in, r, account, out))
	if err != nil {
		return nil, err
	}
	return out, nil
}

// batchGetOne adds one found image to a BatchGetImage answer.
func (s *Server) batchGetOne(ctx context.Context, in *ecrapi.BatchGetImageInput, r meta.Repository, account string, out *ecrapi.BatchGetImageOutput) func(id ecrapi.ImageIdentifier, tag string, m meta.Manifest) error {
	return func(id ecrapi.ImageIdentifier, tag string, m meta.Manifest) error {
		if !registry.Active(m) {
			// A pull, refused as ECR refuses it ("not found"), saying why.
			out.Failures = append(out.Failures, imageFailure(id, ecrapi.ImageFailureCodeImageNotFound, archivedReason(m)))
			return nil
		}
		if len(in.AcceptedMediaTypes) > 0 && !slices.Contains(in.AcceptedMediaTypes, m.MediaType) {
			// ECR converts between some formats; this server stores and
			// serves one format per image, so the image is not found in
			// any format the client accepts.
			out.Failures = append(out.Failures, imageFailure(id, ecrapi.ImageFailureCodeImageNotFound,
				reasonNotFound+": manifest media type "+m.MediaType+" is not in acceptedMediaTypes"))
			return nil
		}
		img := ecrapi.Image{
			RegistryId:             ecrapi.Ptr(account),
			RepositoryName:         ecrapi.Ptr(r.Name),
			ImageId:                &ecrapi.ImageIdentifier{ImageDigest: ecrapi.Ptr(m.Digest)},
			ImageManifest:          ecrapi.Ptr(string(m.Content)),
			ImageManifestMediaType: ecrapi.Ptr(m.MediaType),
		}
		if tag != "" {
			img.ImageId.ImageTag = ecrapi.Ptr(tag)
		}
		out.Images = append(out.Images, img)
		s.Registry.NotePull(r, m.Digest, caller(ctx).String())
		return nil
	}
}

// archivedReason is the failure reason of a pull of an image that is not
// active.
func archivedReason(m meta.Manifest) string {
	if m.Status == meta.ImageActivating {
		return reasonNotFound + ": the image is being restored from archive (ACTIVATING) and can be pulled once it is ACTIVE"
	}
	return reasonNotFound + ": the image is archived (ARCHIVED); restore it with UpdateImageStorageClass to STANDARD before pulling it"
}

// eachImage resolves the image ids of a batch request once each, recording
// ECR's per-image failures for malformed or unknown ones, and calls fn for
// every image found.
func (s *Server) eachImage(ctx context.Context, r meta.Repository, ids []ecrapi.ImageIdentifier, failures *[]ecrapi.ImageFailure,
	fn func(id ecrapi.ImageIdentifier, tag string, m meta.Manifest) error) error {
	for i, id := range ids {
		if slices.ContainsFunc(ids[:i], func(o ecrapi.ImageIdentifier) bool { return sameImageID(o, id) }) {
			continue
		}
		tag, d, code, reason := parseImageID(id)
		if code != "" {
			*failures = append(*failures, imageFailure(id, code, reason))
			continue
		}
		m, code, reason, err := s.findImage(ctx, r, tag, d)
		if err != nil {
			return err
		}
		if code != "" {
			*failures = append(*failures, imageFailure(id, code, reason))
			continue
		}
		if err := fn(id, tag, m); err != nil {
			return err
		}
	}
	return nil
}

// BatchDeleteImage deletes images by digest (the image and all its tags)
// or tags (the tag; the image too when that was its last tag and no index
// lists it, as ECR does). Deleted images go to the recycle bin when it is
// on. An image a manifest list references is refused with
// ImageReferencedByManifestList naming the index.
func (s *Server) BatchDeleteImage(ctx context.Context, in *ecrapi.BatchDeleteImageInput) (*ecrapi.BatchDeleteImageOutput, error) {
	r, _, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:BatchDeleteImage")
	if err != nil {
		return nil, err
	}
	who := registry.Actor{Principal: caller(ctx).String(), Via: "ecr"}
	out := &ecrapi.BatchDeleteImageOutput{ImageIds: []ecrapi.ImageIdentifier{}, Failures: []ecrapi.ImageFailure{}}
	err = s.eachImage(ctx, r, in.ImageIds, &out.Failures, func(id ecrapi.ImageIdentifier, tag string, m meta.Manifest) error {
		var res meta.ImageDeleteResult
		var err error
		if tag != "" {
			res, err = s.Registry.UntagImage(ctx, r, tag, m.Digest, who)
		} else {
			res, err = s.Registry.DeleteImage(ctx, r, m.Digest, who)
		}
		var re *registry.Error
		switch {
		case err == nil:
		case errors.As(err, &re) && re.Code == registry.CodeManifestUnknown:
			// Deleted or moved by someone else since it was resolved.
			out.Failures = append(out.Failures, imageFailure(id, ecrapi.ImageFailureCodeImageNotFound, reasonNotFound))
			return nil
		case errors.As(err, &re) && re.Code == registry.CodeManifestReferenced:
			index, _ := re.Detail.(map[string]any)["index"].(string)
			out.Failures = append(out.Failures, imageFailure(id, ecrapi.ImageFailureCodeImageReferencedByManifestList,
				reasonReferencedList+": ["+index+"]"))
			return nil
		default:
			return err
		}
		if tag != "" {
			out.ImageIds = append(out.ImageIds, ecrapi.ImageIdentifier{ImageDigest: ecrapi.Ptr(m.Digest), ImageTag: ecrapi.Ptr(tag)})
			return nil
		}
		if len(res.Tags) == 0 {
			out.ImageIds = append(out.ImageIds, ecrapi.ImageIdentifier{ImageDigest: ecrapi.Ptr(m.Digest)})
		}
		for _, t := range res.Tags {
			out.ImageIds = append(out.ImageIds, ecrapi.ImageIdentifier{ImageDigest: ecrapi.Ptr(m.Digest), ImageTag: ecrapi.Ptr(t)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PutImage stores a manifest (its layers or child images must be in the
// repository) and optionally tags it.
func (s *Server) PutImage(ctx context.Context, in *ecrapi.PutImageInput) (*ecrapi.PutImageOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:PutImage")
	if err != nil {
		return nil, err
	}
	body := []byte(ecrapi.Deref(in.ImageManifest))
	tag := ecrapi.Deref(in.ImageTag)
	if tag != "" && !names.ValidTag(tag) {
		return nil, ecrapi.NewInvalidParameterException("Invalid parameter at 'imageTag' failed to satisfy constraint: 'must satisfy regular expression '[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}''")
	}
	if int64(len(body)) > s.Registry.MaxManifestBytes() {
		return nil, ecrapi.NewInvalidParameterException(fmt.Sprintf("Invalid parameter at 'imageManifest' failed to satisfy constraint: 'manifest of %d bytes exceeds the limit of %d'", len(body), s.Registry.MaxManifestBytes()))
	}
	p, err := manifest.Parse(ecrapi.Deref(in.ImageManifestMediaType), body)
	if err != nil {
		return nil, ecrapi.NewInvalidParameterException("Invalid parameter at 'imageManifest' failed to satisfy constraint: '" + err.Error() + "'")
	}
	d := digest.SHA256.FromBytes(body)
	ref := names.Reference{Tag: tag}
	if ds := ecrapi.Deref(in.ImageDigest); ds != "" {
		want, err := names.ParseDigest(ds)
		if err != nil {
			return nil, ecrapi.NewInvalidParameterException("Invalid parameter at 'imageDigest' failed to satisfy constraint: '" + reasonInvalidDigest + "'")
		}
		if got := want.Algorithm().FromBytes(body); got != want {
			return nil, ecrapi.NewImageDigestDoesNotMatchException("Provided image digest '" + ds + "' does not match the digest '" + string(got) + "' calculated for the image manifest")
		}
		d, ref.Digest = want, want
	}
	if tag == "" {
		ref.Digest = d
	}

	// Nothing to change: ECR refuses the push.
	probe := names.Reference{Tag: tag}
	if tag == "" {
		probe = names.Reference{Digest: d}
	}
	switch cur, err := s.Registry.GetManifest(ctx, r, probe); {
	case err == nil && cur.Digest == string(d) && registry.Active(cur):
		// (Pushing an archived image again restores it, as in ECR.)
		msg := "Image with digest '" + string(d) + "' and tag '" + tag + "' already exists in the repository with name '" + r.Name + "' in registry with id '" + account + "'"
		if tag == "" {
			msg = "Image with digest '" + string(d) + "' already exists in the repository with name '" + r.Name + "' in registry with id '" + account + "'"
		}
		return nil, ecrapi.NewImageAlreadyExistsException(msg)
	case err != nil && registry.CodeOf(err) != registry.CodeManifestUnknown:
		return nil, err
	}

	var opts registry.PutOptions
	if hr := awsjson.HTTPRequest(ctx); hr != nil {
		opts.PlatformOverride, _ = strconv.ParseBool(hr.Header.Get(registry.PlatformOverrideHeader))
	}
	res, err := s.Registry.PutManifestWith(ctx, r, ref, p.MediaType, body, registry.Actor{Principal: caller(ctx).String(), Via: "ecr"}, opts)
	if err != nil {
		return nil, s.putImageError(err, p, r.Name, account)
	}
	img := &ecrapi.Image{
		RegistryId:             ecrapi.Ptr(account),
		RepositoryName:         ecrapi.Ptr(r.Name),
		ImageId:                &ecrapi.ImageIdentifier{ImageDigest: ecrapi.Ptr(string(res.Digest))},
		ImageManifest:          in.ImageManifest,
		ImageManifestMediaType: ecrapi.Ptr(p.MediaType),
	}
	if tag != "" {
		img.ImageId.ImageTag = ecrapi.Ptr(tag)
	}
	return &ecrapi.PutImageOutput{Image: img}, nil
}

// putImageError maps a registry failure of PutImage to ECR's exceptions.
func (s *Server) putImageError(err error, p *manifest.Parsed, repo, account string) error {
	var re *registry.Error
	if !errors.As(err, &re) {
		return err
	}
	switch re.Code {
	case registry.CodeTagInvalid:
		return ecrapi.NewImageTagAlreadyExistsException(re.Message)
	case registry.CodeManifestBlobUnknown:
		var missing []string
		if det, ok := re.Detail.(map[string]any); ok {
			missing, _ = det["digests"].([]string)
		}
		list := "[" + strings.Join(missing, ", ") + "]"
		if p.IsIndex() {
			return ecrapi.NewReferencedImagesNotFoundException("The following images referenced in the manifest list were not found: " + list)
		}
		return ecrapi.NewLayersNotFoundException("Layers with digests '" + list + "' required for pushing image into repository with name '" + repo + "' in the registry with id '" + account + "' do not exist")
	case registry.CodeManifestInvalid, registry.CodeManifestTooLarge:
		return ecrapi.NewInvalidParameterException("Invalid parameter at 'imageManifest' failed to satisfy constraint: '" + re.Message + "'")
	case registry.CodeDigestInvalid:
		return ecrapi.NewImageDigestDoesNotMatchException(re.Message)
	case registry.CodeNameUnknown:
		return repoNotFound(account, repo)
	case registry.CodePlatformMismatch:
		return ecrapi.NewInvalidParameterException("Invalid parameter at 'imageManifest' failed to satisfy constraint: '" + re.Message + "; " + registry.OverrideHint(repo) + "'")
	case registry.CodeTagMoved:
		return ecrapi.NewInvalidParameterException(re.Message)
	}
	return err
}

// ListImageReferrers lists the manifests whose subject is the given image.
// ECR authorizes it as ecr:BatchGetImage.
func (s *Server) ListImageReferrers(ctx context.Context, in *ecrapi.ListImageReferrersInput) (*ecrapi.ListImageReferrersOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:BatchGetImage")
	if err != nil {
		return nil, err
	}
	var sd string
	if in.SubjectId != nil {
		sd = ecrapi.Deref(in.SubjectId.ImageDigest)
	}
	subject, err := names.ParseDigest(sd)
	if err != nil {
		return nil, ecrapi.NewInvalidParameterException("Invalid parameter at 'subjectId.imageDigest' failed to satisfy constraint: '" + reasonInvalidDigest + "'")
	}
	var types []string
	var status ecrapi.ArtifactStatusFilter
	if in.Filter != nil {
		types, status = in.Filter.ArtifactTypes, ecrapi.Deref(in.Filter.ArtifactStatus)
	}
	st, err := s.decodePage(in.NextToken, imagePage{Op: "ListImageReferrers", Account: account, Repo: r.Name,
		Filter: string(subject) + "|" + string(status) + "|" + strings.Join(types, "\x00")})
	if err != nil {
		return nil, err
	}
	out := &ecrapi.ListImageReferrersOutput{Referrers: []ecrapi.ImageReferrer{}}
	if status == "" {
		status = ecrapi.ArtifactStatusFilterActive // as ECR: only active artifacts by default
	}
	refs, err := s.Meta.ListReferrers(ctx, r.ID, string(subject))
	if err != nil {
		return nil, err
	}
	slices.SortFunc(refs, func(a, b meta.Referrer) int { return strings.Compare(a.Digest, b.Digest) })
	limit := imagePageLimit(in.MaxResults, defaultReferrerPage)
	for _, ref := range refs {
		refStatus := ecrapi.ArtifactStatus(registry.StatusOf(meta.Manifest{Status: ref.Status}))
		if ref.Digest <= st.After || (len(types) > 0 && !slices.Contains(types, ref.ArtifactType)) ||
			status != ecrapi.ArtifactStatusFilterAny && string(status) != string(refStatus) {
			continue
		}
		if len(out.Referrers) == limit {
			next := st
			next.After = *out.Referrers[limit-1].Digest
			out.NextToken = ecrapi.Ptr(s.Pager.Encode(next))
			break
		}
		ir := ecrapi.ImageReferrer{
			Digest:         ecrapi.Ptr(ref.Digest),
			MediaType:      ecrapi.Ptr(ref.MediaType),
			Size:           ecrapi.Ptr(ref.Size),
			ArtifactStatus: &refStatus,
		}
		if ref.ArtifactType != "" {
			ir.ArtifactType = ecrapi.Ptr(ref.ArtifactType)
		}
		if len(ref.Annotations) > 0 {
			var ann map[string]string
			if json.Unmarshal(ref.Annotations, &ann) == nil && len(ann) > 0 {
				ir.Annotations = ann
			}
		}
		out.Referrers = append(out.Referrers, ir)
	}
	return out, nil
}
