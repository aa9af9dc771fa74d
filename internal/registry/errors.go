package registry

import (
	"errors"
	"fmt"
)

// Code is an error code of the OCI distribution spec (plus TAG_INVALID,
// which ECR answers for immutable tags). The HTTP layer maps codes to
// statuses; the core only says what went wrong.
type Code string

// Error codes.
const (
	CodeBlobUnknown         Code = "BLOB_UNKNOWN"
	CodeBlobUploadInvalid   Code = "BLOB_UPLOAD_INVALID"
	CodeBlobUploadUnknown   Code = "BLOB_UPLOAD_UNKNOWN"
	CodeDigestInvalid       Code = "DIGEST_INVALID"
	CodeManifestBlobUnknown Code = "MANIFEST_BLOB_UNKNOWN"
	CodeManifestInvalid     Code = "MANIFEST_INVALID"
	CodeManifestUnknown     Code = "MANIFEST_UNKNOWN"
	CodeManifestTooLarge    Code = "MANIFEST_INVALID_SIZE"
	CodeNameInvalid         Code = "NAME_INVALID"
	CodeNameUnknown         Code = "NAME_UNKNOWN"
	CodeSizeInvalid         Code = "SIZE_INVALID"
	CodeRangeInvalid        Code = "RANGE_INVALID"
	CodeTagInvalid          Code = "TAG_INVALID"
	CodeUnauthorized        Code = "UNAUTHORIZED"
	CodeDenied              Code = "DENIED"
	CodeUnsupported         Code = "UNSUPPORTED"
	CodeTooManyRequests     Code = "TOOMANYREQUESTS"
	CodeManifestReferenced  Code = "MANIFEST_REFERENCED"
	// CodePlatformMismatch refuses a tag move across platforms (the
	// platform guard); Detail is a map naming both platform sets.
	CodePlatformMismatch Code = "PLATFORM_MISMATCH"
	// CodeInvalidParameter is a request the core cannot act on as asked
	// (a rollback further back than the history goes, ...).
	CodeInvalidParameter Code = "INVALID_PARAMETER"
	// CodeTagMoved is a tag that kept moving while an operation decided
	// on it; retrying decides again.
	CodeTagMoved Code = "TAG_MOVED"
	// CodeImageArchived refuses a pull of an image that is archived or
	// being restored (the HTTP layer answers MANIFEST_UNKNOWN, as ECR
	// answers 404).
	CodeImageArchived Code = "IMAGE_ARCHIVED"
	// CodeStorageClassUnsupported refuses a storage class move the image's
	// status does not allow (Detail is the status).
	CodeStorageClassUnsupported Code = "STORAGE_CLASS_UNSUPPORTED"
)

// Error is a registry failure with a spec error code.
type Error struct {
	Code    Code
	Message string
	Detail  any
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of err, or "" when it is not a registry error.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
