package awsjson

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
)

// DefaultMaxBodyBytes is the request body limit when neither the Handler nor
// the Op sets one.
const DefaultMaxBodyBytes = 10 << 20

// OpFunc runs one operation. input is the value Op.NewInput returned, decoded
// from the request and validated; output is encoded as the response (nil
// means {}).
type OpFunc func(ctx context.Context, input any) (output any, err error)

// Op is a registered operation.
type Op struct {
	// NewInput returns a pointer to a new zero input value, into which the
	// request body is decoded. If the input has a Validate() error method,
	// it is called before Func.
	NewInput func() any
	Func     OpFunc
	// MaxBodyBytes overrides Handler.MaxBodyBytes for this operation.
	MaxBodyBytes int64
}

// Typed adapts a typed function to an Op: the input is decoded into a new
// In, and a nil *Out is answered with {}.
func Typed[In, Out any](fn func(context.Context, *In) (*Out, error)) Op {
	return Op{
		NewInput: func() any { return new(In) },
		Func: func(ctx context.Context, input any) (any, error) {
			out, err := fn(ctx, input.(*In))
			if err != nil {
				return nil, err
			}
			if out == nil {
				return nil, nil
			}
			return out, nil
		},
	}
}

// Register registers fn as operation name on h.
func Register[In, Out any](h *Handler, name string, fn func(context.Context, *In) (*Out, error)) {
	h.Handle(name, Typed(fn))
}

// Handler serves one AWS JSON 1.1 service. Configure it, register
// operations, then serve; it must not be changed while serving.
type Handler struct {
	// TargetPrefix is the part of X-Amz-Target before the dot, e.g.
	// "AmazonEC2ContainerRegistry_V20150921".
	TargetPrefix string
	// Ops maps operation names to operations.
	Ops map[string]Op
	// Authenticate, if set, is called with every request and its body
	// before the operation is looked up; an error is the response (an
	// APIError with its own code and status, anything else a 500). The
	// principal is available to operations through Principal(ctx).
	Authenticate func(r *http.Request, body []byte) (principal any, err error)
	// MaxBodyBytes limits request bodies (default DefaultMaxBodyBytes);
	// larger ones get 413 SerializationException.
	MaxBodyBytes int64
	// InternalErrorCode is the __type of 500 answers to errors that are not
	// API errors (default "InternalFailure"; ECR's model calls its fault
	// "ServerException").
	InternalErrorCode string
	// Logger receives internal failures (default slog.Default()).
	Logger *slog.Logger
	// NewRequestID makes x-amzn-RequestId values (default: random UUIDs).
	NewRequestID func() string
}

// Handle registers op as operation name.
func (h *Handler) Handle(name string, op Op) {
	if op.NewInput == nil || op.Func == nil {
		panic("awsjson: Handle " + name + ": Op needs NewInput and Func")
	}
	if h.Ops == nil {
		h.Ops = map[string]Op{}
	}
	h.Ops[name] = op
}

type ctxKey int

const (
	principalKey ctxKey = iota
	requestIDKey
	operationKey
	httpRequestKey
	responseHeaderKey
)

// WithPrincipal returns ctx carrying principal, as Handler does with what
// Authenticate returns.
func WithPrincipal(ctx context.Context, principal any) context.Context {
	return context.WithValue(ctx, principalKey, principal)
}

// Principal returns the principal Authenticate returned for the request, or
// nil.
func Principal(ctx context.Context) any { return ctx.Value(principalKey) }

// RequestID returns the request's x-amzn-RequestId.
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey).(string)
	return s
}

// OperationName returns the name of the operation being served.
func OperationName(ctx context.Context) string {
	s, _ := ctx.Value(operationKey).(string)
	return s
}

// HTTPRequest returns the HTTP request being served (for its Host, remote
// address or headers); its body has been consumed.
func HTTPRequest(ctx context.Context) *http.Request {
	r, _ := ctx.Value(httpRequestKey).(*http.Request)
	return r
}

// ResponseHeader returns the header map of the response being written, for
// operations that answer extensions their output shape cannot carry
// (headers set before the operation returns are sent, with its output or
// its error); nil outside a Handler.
func ResponseHeader(ctx context.Context) http.Header {
	h, _ := ctx.Value(responseHeaderKey).(http.Header)
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := h.requestID()
	w.Header().Set("x-amzn-RequestId", id)
	ctx := context.WithValue(r.Context(), requestIDKey, id)
	ctx = context.WithValue(ctx, httpRequestKey, r)
	ctx = context.WithValue(ctx, responseHeaderKey, w.Header())

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.writeError(ctx, w, &Error{Code: CodeUnknownOperation, Status: http.StatusMethodNotAllowed,
			Message: "Method " + truncate(r.Method, 32) + " is not allowed; use POST"})
		return
	}
	target := r.Header.Get("X-Amz-Target")
	name, op, known := h.lookup(target)

	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	if known && op.MaxBodyBytes > 0 {
		limit = op.MaxBodyBytes
	}
	body, err := readBody(w, r, limit)
	if err != nil {
		h.writeError(ctx, w, err)
		return
	}
	if h.Authenticate != nil {
		p, err := h.Authenticate(r, body)
		if err != nil {
			h.writeError(ctx, w, err)
			return
		}
		ctx = WithPrincipal(ctx, p)
	}
	if !known {
		msg := "Unknown operation"
		if target != "" {
			msg += " " + strconv.Quote(truncate(target, 256))
		}
		h.writeError(ctx, w, &Error{Code: CodeUnknownOperation, Message: msg})
		return
	}
	ctx = context.WithValue(ctx, operationKey, name)

	input := op.NewInput()
	if err := decodeInput(body, input); err != nil {
		h.writeError(ctx, w, err)
		return
	}
	if v, ok := input.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			if _, ok := AsAPIError(err); !ok {
				err = &Error{Code: CodeValidation, Message: err.Error()}
			}
			h.writeError(ctx, w, err)
			return
		}
	}
	out, err := h.call(ctx, op, input)
	if err != nil {
		h.writeError(ctx, w, err)
		return
	}
	if out == nil {
		out = struct{}{}
	}
	b, err := marshal(out)
	if err != nil {
		h.writeError(ctx, w, fmt.Errorf("awsjson: encoding %s output: %w", name, err))
		return
	}
	writeJSON(w, http.StatusOK, b)
}

func (h *Handler) lookup(target string) (string, Op, bool) {
	prefix, name, ok := strings.Cut(target, ".")
	if !ok || prefix != h.TargetPrefix {
		return "", Op{}, false
	}
	op, ok := h.Ops[name]
	return name, op, ok
}

// call runs op, turning a panic into an internal error.
func (h *Handler) call(ctx context.Context, op Op, input any) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err = fmt.Errorf("awsjson: panic in %s: %v\n%s", OperationName(ctx), p, debug.Stack())
		}
	}()
	return op.Func(ctx, input)
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	tooLarge := &Error{Code: CodeSerialization, Status: http.StatusRequestEntityTooLarge,
		Message: "Request body exceeds the limit of " + strconv.FormatInt(limit, 10) + " bytes"}
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, &Error{Code: CodeSerialization, Message: "Could not read the request body"}
	}
	return body, nil
}

// decodeInput decodes a request body into input, answering
// SerializationException for anything that is not a JSON object whose
// members have the types the model says.
func decodeInput(body []byte, input any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || string(body) == "null" {
		return nil
	}
	if body[0] != '{' {
		return &Error{Code: CodeSerialization, Message: "Request body must be a JSON object"}
	}
	err := json.Unmarshal(body, input)
	if err == nil {
		return nil
	}
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		b64 base64.CorruptInputError
	)
	msg := "Could not parse the request body"
	switch {
	case errors.As(err, &syn):
		msg = "Malformed JSON at offset " + strconv.FormatInt(syn.Offset, 10) + ": " + strings.TrimPrefix(syn.Error(), "json: ")
	case errors.As(err, &typ):
		msg = "Unexpected JSON " + typ.Value
		if typ.Field != "" {
			msg += " for member '" + typ.Field + "'"
		}
		msg += "; expected " + jsonKind(typ.Type)
	case errors.As(err, &b64):
		msg = "Invalid base64 in a blob member at byte " + strconv.FormatInt(int64(b64), 10)
	case errors.Is(err, errTimestamp):
		msg = "Invalid timestamp: " + errTimestamp.Error()
	}
	return &Error{Code: CodeSerialization, Message: msg}
}

// jsonKind names the JSON a Go type is decoded from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	if t == reflect.TypeFor[Timestamp]() {
		return "a timestamp (epoch seconds)"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer in range for " + t.Kind().String()
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a different type"
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// writeError answers err: API errors as themselves, anything else as a
// logged 500 without details.
func (h *Handler) writeError(ctx context.Context, w http.ResponseWriter, err error) {
	ae, ok := AsAPIError(err)
	if !ok {
		h.logger().ErrorContext(ctx, "awsjson: internal failure",
			"requestId", RequestID(ctx), "operation", OperationName(ctx), "error", err)
		code := h.InternalErrorCode
		if code == "" {
			code = CodeInternalFailure
		}
		ae = &Error{Code: code, Status: http.StatusInternalServerError,
			Message: "An internal error occurred. Request ID: " + RequestID(ctx)}
	}
	status, body := errorResponse(ae)
	switch {
	case !ok:
	case status >= 500:
		h.logger().WarnContext(ctx, "awsjson: server error",
			"requestId", RequestID(ctx), "operation", OperationName(ctx), "error", err)
	default:
		// err.Error() may hold detail meant for the server only.
		h.logger().DebugContext(ctx, "awsjson: client error",
			"requestId", RequestID(ctx), "operation", OperationName(ctx), "error", err)
	}
	b, merr := marshal(body)
	if merr != nil {
		b, _ = marshal(map[string]string{"__type": ae.ErrorCode()})
	}
	w.Header().Set("x-amzn-ErrorType", ae.ErrorCode())
	writeJSON(w, status, b)
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

func (h *Handler) requestID() string {
	if h.NewRequestID != nil {
		return h.NewRequestID()
	}
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
