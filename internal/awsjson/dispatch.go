package awsjson

import (
	"net/http"
	"strings"
)

// Dispatch routes AWS JSON 1.1 requests sharing one endpoint (POST /) to
// the Handler whose TargetPrefix is the part of X-Amz-Target before the
// dot, and everything else (no target, an unknown prefix, other methods)
// to def, which answers those as its own protocol errors.
func Dispatch(def http.Handler, handlers ...*Handler) http.Handler {
	byPrefix := make(map[string]*Handler, len(handlers))
	for _, h := range handlers {
		byPrefix[h.TargetPrefix] = h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		prefix, _, ok := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
		if h, found := byPrefix[prefix]; ok && found {
			h.ServeHTTP(w, r)
			return
		}
		def.ServeHTTP(w, r)
	})
}
