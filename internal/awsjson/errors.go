package awsjson

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
)

// Error codes answered by the protocol layer itself.
const (
	CodeUnknownOperation = "UnknownOperationException"
	CodeSerialization    = "SerializationException"
	CodeValidation       = "ValidationException"
	CodeInternalFailure  = "InternalFailure"
	CodeNotImplemented   = "NotImplemented"
)

// APIError is an error with an AWS error code. Errors returned by
// handlers and by Handler.Authenticate are matched against it with
// errors.As. An APIError may also implement
//
//	HTTPStatus() int      // default 400
//	ErrorMessage() string // default: an exported Message field, else Error()
//	ErrorMembers() any    // a value whose JSON object members join the body
type APIError interface {
	error
	ErrorCode() string
}

type httpStatuser interface{ HTTPStatus() int }
type errorMessager interface{ ErrorMessage() string }
type errorMemberer interface{ ErrorMembers() any }

// Error is a plain API error: a code, a message and an HTTP status.
type Error struct {
	Code    string
	Message string
	Status  int // 0 means 400
}

// Error implements error.
func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// ErrorCode implements APIError.
func (e *Error) ErrorCode() string { return e.Code }

// ErrorMessage returns the message alone.
func (e *Error) ErrorMessage() string { return e.Message }

// HTTPStatus returns the status, 400 if unset.
func (e *Error) HTTPStatus() int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}

// NotImplemented is the error of an operation the server knows but does
// not implement (501, which AWS SDKs do not retry).
func NotImplemented(op string) error {
	return &Error{Code: CodeNotImplemented, Status: http.StatusNotImplemented,
		Message: "Operation " + op + " is not implemented by this server"}
}

// AsAPIError finds the first APIError in err's chain.
func AsAPIError(err error) (APIError, bool) {
	var ae APIError
	if errors.As(err, &ae) {
		return ae, true
	}
	return nil, false
}

// errorResponse renders an API error: its status and JSON body.
func errorResponse(ae APIError) (int, map[string]any) {
	status := http.StatusBadRequest
	if s, ok := ae.(httpStatuser); ok && s.HTTPStatus() >= 400 && s.HTTPStatus() <= 599 {
		status = s.HTTPStatus()
	}
	body := map[string]any{}
	if m, ok := ae.(errorMemberer); ok {
		if raw, err := json.Marshal(m.ErrorMembers()); err == nil {
			var members map[string]json.RawMessage
			if json.Unmarshal(raw, &members) == nil {
				for k, v := range members {
					body[k] = v
				}
			}
		}
	}
	delete(body, "Message")
	delete(body, "message")
	if msg := errorMessage(ae); msg != "" {
		body["message"] = msg
	}
	body["__type"] = ae.ErrorCode()
	return status, body
}

// errorMessage is the client-facing message of an API error: its
// ErrorMessage(), else its exported Message field (string or *string), else
// Error() without a leading "Code: ". Error() is the last resort because
// errors may put server-only detail there (internal/access/sigv4's Error
// appends the canonical request it computed).
func errorMessage(ae APIError) string {
	if m, ok := ae.(errorMessager); ok {
		return m.ErrorMessage()
	}
	v := reflect.ValueOf(ae)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct {
		if f, ok := v.Type().FieldByName("Message"); ok && f.IsExported() {
			fv := v.FieldByIndex(f.Index)
			switch {
			case fv.Kind() == reflect.String:
				return fv.String()
			case fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.String:
				if fv.IsNil() {
					return ""
				}
				return fv.Elem().String()
			}
		}
	}
	return strings.TrimPrefix(ae.Error(), ae.ErrorCode()+": ")
}
