package awsjson

// Ptr returns a pointer to v, for the optional (pointer) members of
// generated structures: Ptr("name"), Ptr(int32(100)).
func Ptr[T any](v T) *T { return &v }

// Deref returns *p, or the zero value if p is nil.
func Deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
