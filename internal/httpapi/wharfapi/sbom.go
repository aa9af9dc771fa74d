package wharfapi

import (
	"context"
	"errors"

	"github.com/wharfhq/wharf/internal/access"
	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/scan/sbom"
	"github.com/wharfhq/wharf/internal/scan/sbomsvc"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// GetImageSbom returns the SBOM of an image (CycloneDX 1.6 or SPDX 2.3
// JSON) and, with attach, attaches it to the image as an OCI referrer.

func init() {
	registerOps(func(s *Server, h *awsjson.Handler) {
		awsjson.Register(h, "GetImageSbom", s.GetImageSbom)
	})
}

// ImageID names an image by digest or tag, as ECR's ImageIdentifier.
type ImageID struct {
	ImageDigest *string `json:"imageDigest,omitzero"`
	ImageTag    *string `json:"imageTag,omitzero"`
}

// GetImageSbomInput asks for an image's SBOM.
type GetImageSbomInput struct {
	RegistryID     *string  `json:"registryId,omitzero"`
	RepositoryName *string  `json:"repositoryName,omitzero"`
	ImageID        *ImageID `json:"imageId,omitzero"`
	// Format is CYCLONEDX_1_6 or SPDX_2_3.
	Format *string `json:"format,omitzero"`
	// Platform chooses the image of a multi-platform index
	// (os/arch[/variant]); not needed when the index has one platform.
	Platform *string `json:"platform,omitzero"`
	// Attach pushes the document as a referrer artifact of the image
	// (needs ecr:PutImage as well).
	Attach *bool `json:"attach,omitzero"`
}

var (
	ruleFormat   = awsjson.Rule{Enum: []string{string(sbom.CycloneDX16), string(sbom.SPDX23)}}
	rulePlatform = awsjson.Rule{Min: awsjson.Bound(3), Max: awsjson.Bound(100)}
)

// Validate checks the input against its constraints.
func (in *GetImageSbomInput) Validate() error {
	var v awsjson.Validator
	checkRepo(&v, in.RegistryID, in.RepositoryName, true)
	checkImageID(&v, "imageId", in.ImageID)
	if in.Format == nil {
		v.Null("format")
	} else {
		v.String("format", *in.Format, &ruleFormat)
	}
	if in.Platform != nil {
		v.String("platform", *in.Platform, &rulePlatform)
	}
	return v.Err()
}

// checkImageID validates an image id: required, with a digest or a tag.
func checkImageID(v *awsjson.Validator, path string, id *ImageID) {
	if id == nil {
		v.Null(path)
		return
	}
	if id.ImageDigest == nil && id.ImageTag == nil {
		v.Null(path + ".imageDigest")
	}
	if id.ImageDigest != nil {
		v.String(path+".imageDigest", *id.ImageDigest, &ruleImageDigest)
	}
	if id.ImageTag != nil {
		v.String(path+".imageTag", *id.ImageTag, &ruleImageTag)
	}
}

// GetImageSbomOutput is the document.
type GetImageSbomOutput struct {
	RegistryID     string `json:"registryId"`
	RepositoryName string `json:"repositoryName"`
	// ImageDigest is the platform image described (the index's child
	// when an index was named).
	ImageDigest string `json:"imageDigest"`
	Platform    string `json:"platform,omitempty"`
	Format      string `json:"format"`
	MediaType   string `json:"mediaType"`
	// Sbom is the JSON document.
	Sbom string `json:"sbom"`
	// ReferrerDigest is the attached artifact's manifest digest (attach);
	// AlreadyAttached says it was attached before.
	ReferrerDigest  string `json:"referrerDigest,omitempty"`
	AlreadyAttached bool   `json:"alreadyAttached,omitempty"`
}

// GetImageSbom writes (and optionally attaches) an image's SBOM.
func (s *Server) GetImageSbom(ctx context.Context, in *GetImageSbomInput) (*GetImageSbomOutput, error) {
	if s.SBOM == nil {
		return nil, awsjson.NotImplemented("GetImageSbom")
	}
	r, account, err := s.repository(ctx, in.RegistryID, in.RepositoryName, Action("GetImageSbom"))
	if err != nil {
		return nil, err
	}
	attach := awsjson.Deref(in.Attach)
	if attach {
		if err := s.authorize(ctx, account, r.Name, access.ActionPutImage); err != nil {
			return nil, err
		}
	}
	m, err := s.image(ctx, r, *in.ImageID)
	if err != nil {
		return nil, err
	}
	if m, err = s.SBOM.Platform(ctx, r, m, awsjson.Deref(in.Platform)); err != nil {
		return nil, sbomError(err, account, r.Name)
	}
	f := sbom.Format(*in.Format)
	doc, err := s.SBOM.Generate(ctx, r, m, f, s.host(ctx))
	if err != nil {
		return nil, sbomError(err, account, r.Name)
	}
	out := &GetImageSbomOutput{RegistryID: account, RepositoryName: r.Name, ImageDigest: m.Digest, Platform: doc.Platform,
		Format: string(f), MediaType: doc.MediaType, Sbom: string(doc.Content)}
	if attach {
		att, err := s.SBOM.Attach(ctx, r, doc, actor(ctx))
		if err != nil {
			return nil, apiError(err, account, r.Name)
		}
		out.ReferrerDigest, out.AlreadyAttached = att.Digest, att.Existing
	}
	return out, nil
}

// image resolves an image id in a repository (ImageNotFoundException as
// ECR words it).
func (s *Server) image(ctx context.Context, r meta.Repository, id ImageID) (meta.Manifest, error) {
	var ref names.Reference
	var err error
	tag, dg := awsjson.Deref(id.ImageTag), awsjson.Deref(id.ImageDigest)
	if dg != "" {
		if ref.Digest, err = names.ParseDigest(dg); err != nil {
			return meta.Manifest{}, ecrapi.NewInvalidParameterException("Invalid parameter at 'imageDigest' failed to satisfy constraint: 'Invalid digest'")
		}
	} else {
		ref.Tag = tag
	}
	m, err := s.Registry.GetManifest(ctx, r, ref)
	if registry.CodeOf(err) == registry.CodeManifestUnknown {
		return meta.Manifest{}, ecrapi.NewImageNotFoundException("The image with imageId {imageDigest:'" + dg + "', imageTag:'" + tag +
			"'} does not exist within the repository with name '" + r.Name + "' in the registry with id '" + r.AccountID + "'")
	}
	if err != nil {
		return meta.Manifest{}, err
	}
	if tag != "" && dg != "" && m.Digest != dg {
		return meta.Manifest{}, ecrapi.NewInvalidParameterException("imageTag '" + tag + "' does not point at imageDigest '" + dg + "'")
	}
	return m, nil
}

func sbomError(err error, account, repo string) error {
	switch {
	case errors.Is(err, sbomsvc.ErrIndex):
		return ecrapi.NewInvalidParameterException(err.Error())
	case errors.Is(err, sbomsvc.ErrNotImage):
		return ecrapi.NewUnsupportedImageTypeException("The image is not a container image (an artifact or unknown manifest): it has no software bill of materials")
	case errors.Is(err, inventory.ErrInvalidLayer):
		return ecrapi.NewUnsupportedImageTypeException("The image cannot be catalogued: " + err.Error())
	case errors.Is(err, inventory.ErrLimit):
		return ecrapi.NewLimitExceededException("The image exceeds a cataloguing limit: " + err.Error())
	}
	return apiError(err, account, repo)
}

// host is the registry address clients pull from, for the image's purl.
func (s *Server) host(ctx context.Context) string {
	if r := awsjson.HTTPRequest(ctx); r != nil {
		return r.Host
	}
	return ""
}
