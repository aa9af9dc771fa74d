package awsjson

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ValidationError is the answer to input that violates the service model's
// constraints, worded as AWS words it:
//
//	2 validation errors detected: Value null at 'repositoryName' failed to
//	satisfy constraint: Member must not be null; Value '0' at 'maxResults'
//	failed to satisfy constraint: Member must have value greater than or equal to 1
//
// On the wire it is a 400 ValidationException.
type ValidationError struct {
	Violations []string
}

// Error implements error; it is the exception message.
func (e *ValidationError) Error() string {
	n := len(e.Violations)
	noun := "errors"
	if n == 1 {
		noun = "error"
	}
	return strconv.Itoa(n) + " validation " + noun + " detected: " + strings.Join(e.Violations, "; ")
}

// ErrorCode implements APIError.
func (e *ValidationError) ErrorCode() string { return CodeValidation }

// ErrorMessage is the message of the ValidationException.
func (e *ValidationError) ErrorMessage() string { return e.Error() }

// HTTPStatus is 400.
func (e *ValidationError) HTTPStatus() int { return 400 }

// Rule is the constraints of one shape of a service model. Generated code
// declares one per constrained shape. Length bounds apply to strings (in
// characters), blobs (bytes), lists and maps (elements); value bounds to
// numbers.
type Rule struct {
	Min, Max    *int64
	Enum        []string       // allowed values; nil means any
	Pattern     *regexp.Regexp // anchored: must match the whole value
	PatternText string         // the model's pattern, for messages
}

// Bound returns &n, for Rule literals.
func Bound(n int64) *int64 { return &n }

// AnchorPattern turns a model pattern into a Go regexp matching whole values,
// which is how AWS applies model patterns.
func AnchorPattern(p string) string { return `^(?:` + p + `)$` }

// Validator collects constraint violations. Generated Validate methods use
// it; its zero value is ready to use.
type Validator struct {
	violations []string
}

// Path is the location of member name inside path ("" for the top level).
func Path(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// Elem is the location of the i'th (0-based) element of the list at path, in
// AWS's style: "imageIds.1.member".
func Elem(path string, i int) string {
	return path + "." + strconv.Itoa(i+1) + ".member"
}

// MapValue is the location of the value under key in the map at path.
func MapValue(path, key string) string { return path + "." + key }

func (v *Validator) fail(value, path, constraint string) {
	v.violations = append(v.violations,
		"Value "+value+" at '"+path+"' failed to satisfy constraint: Member must "+constraint)
}

// Null reports a required member that is absent (or JSON null).
func (v *Validator) Null(path string) { v.fail("null", path, "not be null") }

// String checks a string (or enum) value against r.
func (v *Validator) String(path, s string, r *Rule) {
	q := "'" + s + "'"
	if r.Enum != nil && !contains(r.Enum, s) {
		v.fail(q, path, "satisfy enum value set: ["+strings.Join(r.Enum, ", ")+"]")
	}
	if r.Pattern != nil && !r.Pattern.MatchString(s) {
		v.fail(q, path, "satisfy regular expression pattern: "+r.PatternText)
	}
	v.length(q, path, int64(utf8.RuneCountInString(s)), r)
}

// Int checks an integer value against r's value bounds.
func (v *Validator) Int(path string, n int64, r *Rule) {
	q := "'" + strconv.FormatInt(n, 10) + "'"
	if r.Min != nil && n < *r.Min {
		v.fail(q, path, "have value greater than or equal to "+strconv.FormatInt(*r.Min, 10))
	}
	if r.Max != nil && n > *r.Max {
		v.fail(q, path, "have value less than or equal to "+strconv.FormatInt(*r.Max, 10))
	}
}

// Float checks a floating-point value against r's value bounds.
func (v *Validator) Float(path string, f float64, r *Rule) {
	q := "'" + strconv.FormatFloat(f, 'g', -1, 64) + "'"
	if r.Min != nil && f < float64(*r.Min) {
		v.fail(q, path, "have value greater than or equal to "+strconv.FormatInt(*r.Min, 10))
	}
	if r.Max != nil && f > float64(*r.Max) {
		v.fail(q, path, "have value less than or equal to "+strconv.FormatInt(*r.Max, 10))
	}
}

// Len checks the length n of a list, map or blob value against r.
func (v *Validator) Len(path string, value any, n int, r *Rule) {
	if (r.Min == nil || int64(n) >= *r.Min) && (r.Max == nil || int64(n) <= *r.Max) {
		return // skip formatting the value
	}
	v.length("'"+formatValue(value)+"'", path, int64(n), r)
}

func (v *Validator) length(q, path string, n int64, r *Rule) {
	if r.Min != nil && n < *r.Min {
		v.fail(q, path, "have length greater than or equal to "+strconv.FormatInt(*r.Min, 10))
	}
	if r.Max != nil && n > *r.Max {
		v.fail(q, path, "have length less than or equal to "+strconv.FormatInt(*r.Max, 10))
	}
}

// Err returns the violations as a *ValidationError, or nil if there are none.
func (v *Validator) Err() error {
	if len(v.violations) == 0 {
		return nil
	}
	return &ValidationError{Violations: v.violations}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// formatValue renders a list, map, structure or blob for a violation
// message, approximating the Java toString() AWS prints: [a, b] for lists,
// {k=v} for maps, Name(member=value, ...) for structures.
func formatValue(x any) string {
	var b strings.Builder
	writeValue(&b, reflect.ValueOf(x), 0)
	return b.String()
}

func writeValue(b *strings.Builder, v reflect.Value, depth int) {
	if depth > 8 {
		b.WriteString("...")
		return
	}
	switch v.Kind() {
	case reflect.Invalid:
		b.WriteString("null")
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			b.WriteString("null")
			return
		}
		writeValue(b, v.Elem(), depth+1)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			fmt.Fprintf(b, "java.nio.HeapByteBuffer[pos=0 lim=%d cap=%d]", v.Len(), v.Len())
			return
		}
		b.WriteByte('[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			writeValue(b, v.Index(i), depth+1)
		}
		b.WriteByte(']')
	case reflect.Map:
		b.WriteByte('{')
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k.String())
			b.WriteByte('=')
			writeValue(b, v.MapIndex(k), depth+1)
		}
		b.WriteByte('}')
	case reflect.Struct:
		if ts, ok := v.Interface().(Timestamp); ok {
			b.Write(appendEpochMillis(nil, ts.UnixMilli()))
			return
		}
		t := v.Type()
		b.WriteString(t.Name())
		b.WriteByte('(')
		n := 0
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				name = f.Name
			}
			if n > 0 {
				b.WriteString(", ")
			}
			n++
			b.WriteString(name)
			b.WriteByte('=')
			writeValue(b, v.Field(i), depth+1)
		}
		b.WriteByte(')')
	case reflect.String:
		b.WriteString(v.String())
	default:
		fmt.Fprint(b, v.Interface())
	}
}
