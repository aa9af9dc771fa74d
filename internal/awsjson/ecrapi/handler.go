package ecrapi

import "github.com/wharfhq/wharf/internal/awsjson"

// NewHandler returns an awsjson.Handler serving the ECR API with impl, which
// may implement any subset of Service (see Register). Set the Handler's
// Authenticate, Logger and other fields before serving.
func NewHandler(impl any) *awsjson.Handler {
	h := &awsjson.Handler{TargetPrefix: TargetPrefix, InternalErrorCode: FaultCode}
	Register(h, impl)
	return h
}

// Ptr returns a pointer to v, for optional members.
func Ptr[T any](v T) *T { return &v }

// Deref returns *p, or the zero value if p is nil.
func Deref[T any](p *T) T { return awsjson.Deref(p) }
