package sigv4

import (
	"net/http"

	"github.com/wharfhq/wharf/internal/access"
)

// AWS error codes returned by the verifier.
const (
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	CodeIncompleteSignature        = "IncompleteSignatureException"
	CodeInvalidSignature           = "InvalidSignatureException"
	CodeUnrecognizedClient         = "UnrecognizedClientException"
	CodeExpiredToken               = "ExpiredTokenException"
)

// Messages AWS uses verbatim.
const (
	msgMissingToken      = "Missing Authentication Token"
	msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgUnknownKey        = "The security token included in the request is invalid."
	msgBadSessionToken   = "The security token included in the request is invalid"
	msgExpiredToken      = "The security token included in the request is expired"
)

// Error is a failed verification, named and worded as AWS names and words
// it so that the API layer can send Code and Message to the client as they
// are (in the JSON 1.1 "__type"/"message" body, with Status).
type Error struct {
	Code    string // AWS error code, e.g. "InvalidSignatureException"
	Message string // client-facing message
	Status  int    // HTTP status
	// Reason is a detail for server logs (e.g. the canonical request the
	// server computed). It is never meant for the client.
	Reason string
}

func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	return s
}

// ErrorCode returns the AWS error code.
func (e *Error) ErrorCode() string { return e.Code }

// HTTPStatus returns the HTTP status to answer with.
func (e *Error) HTTPStatus() int { return e.Status }

// Is lets callers of the access seam test errors.Is(err,
// access.ErrNoCredentials) and errors.Is(err, access.ErrBadCredentials).
func (e *Error) Is(target error) bool {
	switch target {
	case access.ErrNoCredentials:
		return e.Code == CodeMissingAuthenticationToken
	case access.ErrBadCredentials:
		return e.Code != CodeMissingAuthenticationToken
	}
	return false
}

func errMissing() *Error {
	return &Error{Code: CodeMissingAuthenticationToken, Message: msgMissingToken, Status: http.StatusForbidden}
}

func errIncomplete(msg string) *Error {
	return &Error{Code: CodeIncompleteSignature, Message: msg, Status: http.StatusBadRequest}
}

func errInvalid(msg, reason string) *Error {
	return &Error{Code: CodeInvalidSignature, Message: msg, Status: http.StatusForbidden, Reason: reason}
}

func errMismatch(reason string) *Error { return errInvalid(msgSignatureMismatch, reason) }

func errUnrecognized(msg, reason string) *Error {
	return &Error{Code: CodeUnrecognizedClient, Message: msg, Status: http.StatusForbidden, Reason: reason}
}

func errExpired(msg string) *Error {
	return &Error{Code: CodeExpiredToken, Message: msg, Status: http.StatusForbidden}
}
