package middleware

import (
	"errors"
	"io"
	"net/http"
)

// responseWriter records the status and counts body bytes. It keeps the
// optional interfaces the registry relies on:
//
//   - io.ReaderFrom, delegated to the underlying writer so that serving a
//     blob from an *os.File still uses sendfile;
//   - http.Flusher, and FlushError for http.ResponseController;
//   - io.StringWriter;
//   - Unwrap, so http.ResponseController reaches the connection for
//     deadlines, hijacking and full duplex.
type responseWriter struct {
	w           http.ResponseWriter
	status      int
	wroteHeader bool
	bytes       int64
}

var (
	_ io.ReaderFrom                   = (*responseWriter)(nil)
	_ io.StringWriter                 = (*responseWriter)(nil)
	_ http.Flusher                    = (*responseWriter)(nil)
	_ interface{ FlushError() error } = (*responseWriter)(nil)
)

func (w *responseWriter) Header() http.Header { return w.w.Header() }

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.w }

func (w *responseWriter) WriteHeader(code int) {
	// 1xx responses other than 101 are informational: the final status is
	// still to come. Out-of-range codes are not recorded: net/http panics on
	// them and the response has then not started.
	if !w.wroteHeader && (code >= 200 && code <= 999 || code == http.StatusSwitchingProtocols) {
		w.status, w.wroteHeader = code, true
	}
	w.w.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusOK, true
	}
	n, err := w.w.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *responseWriter) WriteString(s string) (int, error) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusOK, true
	}
	n, err := io.WriteString(w.w, s)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom delegates to the underlying writer's ReadFrom (net/http's uses
// sendfile/splice for files), falling back to a plain copy through Write.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	rf, ok := w.w.(io.ReaderFrom)
	if !ok {
		return io.Copy(writerOnly{w}, src)
	}
	n, err := rf.ReadFrom(src)
	w.bytes += n
	if n > 0 && !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusOK, true
	}
	return n, err
}

// writerOnly hides ReadFrom so io.Copy does not recurse into it.
type writerOnly struct{ io.Writer }

// Flush implements http.Flusher; errors are dropped, as that interface
// requires. Use http.ResponseController to see them.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError is what http.ResponseController.Flush calls.
func (w *responseWriter) FlushError() error {
	err := http.NewResponseController(w.w).Flush()
	if !w.wroteHeader && !errors.Is(err, http.ErrNotSupported) {
		w.status, w.wroteHeader = http.StatusOK, true
	}
	return err
}

// countingBody counts the request body bytes the handler reads.
type countingBody struct {
	rc io.ReadCloser
	n  int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n += int64(n)
	return n, err
}

func (b *countingBody) Close() error { return b.rc.Close() }
