package wharfapi

import (
	"context"
	"slices"
	"time"

	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/registry/manifest"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// The recycle bin: ListRecycleBin lists deleted images that are still
// restorable; RestoreImage brings one back with its tags.

func init() {
	registerOps(func(s *Server, h *awsjson.Handler) {
		awsjson.Register(h, "ListRecycleBin", s.ListRecycleBin)
		awsjson.Register(h, "RestoreImage", s.RestoreImage)
	})
}

const defaultBinPage = 100

// ListRecycleBinInput asks for the bin of a repository, or of the whole
// registry without repositoryName.
type ListRecycleBinInput struct {
	RegistryID     *string `json:"registryId,omitzero"`
	RepositoryName *string `json:"repositoryName,omitzero"`
	NextToken      *string `json:"nextToken,omitzero"`
	MaxResults     *int32  `json:"maxResults,omitzero"`
}

// Validate checks the input against its constraints.
func (in *ListRecycleBinInput) Validate() error {
	var v awsjson.Validator
	checkRepo(&v, in.RegistryID, in.RepositoryName, false)
	checkPage(&v, in.NextToken, in.MaxResults)
	return v.Err()
}

// RecycleBinEntry is a deleted image that can be restored until expiresAt.
type RecycleBinEntry struct {
	RegistryID             string             `json:"registryId"`
	RepositoryName         string             `json:"repositoryName"`
	ImageDigest            string             `json:"imageDigest"`
	ImageTags              []string           `json:"imageTags,omitempty"`
	ImageManifestMediaType string             `json:"imageManifestMediaType"`
	ImageSizeInBytes       *int64             `json:"imageSizeInBytes,omitzero"`
	ImagePushedAt          *awsjson.Timestamp `json:"imagePushedAt,omitzero"`
	DeletedAt              *awsjson.Timestamp `json:"deletedAt"`
	ExpiresAt              *awsjson.Timestamp `json:"expiresAt"`
	DeletedBy              string             `json:"deletedBy,omitempty"`
	Via                    string             `json:"via,omitempty"`
}

// ListRecycleBinOutput is a page of bin entries, newest deletion first.
type ListRecycleBinOutput struct {
	RecycleBinEntries []RecycleBinEntry `json:"recycleBinEntries"`
	NextToken         *string           `json:"nextToken,omitzero"`
}

// ListRecycleBin lists restorable deleted images, newest deletion first.
func (s *Server) ListRecycleBin(ctx context.Context, in *ListRecycleBinInput) (*ListRecycleBinOutput, error) {
	var repo *meta.Repository
	account := registryID(ctx, in.RegistryID)
	if in.RepositoryName != nil {
		r, _, err := s.repository(ctx, in.RegistryID, in.RepositoryName, Action("ListRecycleBin"))
		if err != nil {
			return nil, err
		}
		repo = &r
	} else if err := s.authorize(ctx, account, "", Action("ListRecycleBin")); err != nil {
		return nil, err
	}
	want := page{Op: "ListRecycleBin", Account: account}
	if repo != nil {
		want.Repo = repo.Name
	}
	st, err := s.decodePage(in.NextToken, want)
	if err != nil {
		return nil, err
	}
	after := meta.BinCursor{RepoID: st.ID, Digest: st.After}
	if st.T != 0 {
		after.DeletedAt = time.Unix(0, st.T)
	}
	limit := pageLimit(in.MaxResults, defaultBinPage)
	entries, err := s.Registry.ListBin(ctx, account, repo, after, limit+1)
	if err != nil {
		return nil, err
	}
	out := &ListRecycleBinOutput{RecycleBinEntries: []RecycleBinEntry{}}
	if len(entries) > limit {
		entries = entries[:limit]
		last := entries[limit-1]
		next := st
		next.T, next.ID, next.After = last.DeletedAt.UnixNano(), last.Manifest.RepoID, last.Manifest.Digest
		out.NextToken = awsjson.Ptr(s.Pager.Encode(next))
	}
	for _, e := range entries {
		out.RecycleBinEntries = append(out.RecycleBinEntries, binEntry(e))
	}
	return out, nil
}

func binEntry(e meta.BinEntry) RecycleBinEntry {
	m := e.Manifest
	out := RecycleBinEntry{
		RegistryID: e.AccountID, RepositoryName: e.Repository, ImageDigest: m.Digest, ImageTags: e.Tags,
		ImageManifestMediaType: m.MediaType, DeletedAt: awsjson.NewTimestamp(e.DeletedAt),
		ExpiresAt: awsjson.NewTimestamp(e.ExpiresAt), DeletedBy: e.DeletedBy, Via: e.Via,
	}
	if !m.PushedAt.IsZero() {
		out.ImagePushedAt = awsjson.NewTimestamp(m.PushedAt)
	}
	if p, err := manifest.Parse(m.MediaType, m.Content); err == nil && !p.IsIndex() {
		// As DescribeImages reports it: config and layers.
		var size int64
		if p.Config != nil {
			size += p.Config.Size
		}
		for _, l := range p.Layers {
			size += l.Size
		}
		out.ImageSizeInBytes = &size
	}
	return out
}

// RestoreImageInput names a deleted image to bring back.
type RestoreImageInput struct {
	RegistryID     *string `json:"registryId,omitzero"`
	RepositoryName *string `json:"repositoryName,omitzero"`
	ImageDigest    *string `json:"imageDigest,omitzero"`
}

// Validate checks the input against its constraints.
func (in *RestoreImageInput) Validate() error {
	var v awsjson.Validator
	checkRepo(&v, in.RegistryID, in.RepositoryName, true)
	if in.ImageDigest == nil {
		v.Null("imageDigest")
	} else {
		v.String("imageDigest", *in.ImageDigest, &ruleImageDigest)
	}
	return v.Err()
}

// SkippedTag is a tag the image had that points at another image now, and
// was left there.
type SkippedTag struct {
	ImageTag           string `json:"imageTag"`
	CurrentImageDigest string `json:"currentImageDigest"`
}

// RestoredImage is one image a restore brought back.
type RestoredImage struct {
	ImageDigest  string       `json:"imageDigest"`
	RestoredTags []string     `json:"restoredTags"`
	SkippedTags  []SkippedTag `json:"skippedTags,omitempty"`
}

// RestoreImageOutput tells what came back: the image (restoredTags,
// skippedTags) and, for an index, the deleted images it lists that came
// back with it (restoredImages, children first, the image last).
type RestoreImageOutput struct {
	RegistryID     string          `json:"registryId"`
	RepositoryName string          `json:"repositoryName"`
	ImageDigest    string          `json:"imageDigest"`
	RestoredTags   []string        `json:"restoredTags"`
	SkippedTags    []SkippedTag    `json:"skippedTags,omitempty"`
	RestoredImages []RestoredImage `json:"restoredImages"`
}

// RestoreImage brings a deleted image back from the recycle bin.
func (s *Server) RestoreImage(ctx context.Context, in *RestoreImageInput) (*RestoreImageOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryID, in.RepositoryName, Action("RestoreImage"))
	if err != nil {
		return nil, err
	}
	d := awsjson.Deref(in.ImageDigest)
	res, err := s.Registry.RestoreImage(ctx, r, d, actor(ctx))
	if err != nil {
		return nil, apiError(err, account, r.Name)
	}
	out := &RestoreImageOutput{RegistryID: account, RepositoryName: r.Name, ImageDigest: d, RestoredTags: []string{}, RestoredImages: []RestoredImage{}}
	for _, im := range res.Images {
		ri := RestoredImage{ImageDigest: im.Digest, RestoredTags: im.Tags}
		if ri.RestoredTags == nil {
			ri.RestoredTags = []string{}
		}
		for _, t := range sortedKeys(im.Skipped) {
			ri.SkippedTags = append(ri.SkippedTags, SkippedTag{ImageTag: t, CurrentImageDigest: im.Skipped[t]})
		}
		if im.Digest == d {
			out.RestoredTags, out.SkippedTags = ri.RestoredTags, ri.SkippedTags
		}
		out.RestoredImages = append(out.RestoredImages, ri)
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
