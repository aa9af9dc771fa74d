package wharfapi

import (
	"errors"

	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
	"github.com/wharfhq/wharf/internal/registry"
)

// apiError maps a failure of the registry core to ECR's exception of the
// same meaning; other errors pass through (a 500 ServerException).
func apiError(err error, account, repo string) error {
	var re *registry.Error
	if !errors.As(err, &re) {
		return err
	}
	switch re.Code {
	case registry.CodeNameUnknown:
		return repoNotFound(account, repo)
	case registry.CodeManifestUnknown:
		return ecrapi.NewImageNotFoundException(re.Message)
	case registry.CodeTagInvalid:
		return ecrapi.NewImageTagAlreadyExistsException(re.Message)
	case registry.CodeManifestBlobUnknown:
		if det, _ := re.Detail.(map[string]any); det["kind"] == "manifest" {
			return ecrapi.NewReferencedImagesNotFoundException(re.Message)
		}
		return ecrapi.NewLayersNotFoundException(re.Message)
	case registry.CodeManifestReferenced:
		return ecrapi.NewInvalidParameterException(re.Message)
	case registry.CodeInvalidParameter, registry.CodeTagMoved, registry.CodePlatformMismatch:
		return ecrapi.NewInvalidParameterException(re.Message)
	}
	return err
}
