package awsjson

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// Timestamp is an AWS JSON timestamp: on the wire, epoch seconds as a JSON
// number with the fractional part in milliseconds ("1700000000.123"; whole
// seconds have no fraction), which is the protocol's default
// timestampFormat. Sub-millisecond precision is dropped when encoding, as
// AWS services do. Decoding accepts a JSON number in any notation (AWS's Java
// services send 1.700000000123E9) or a string holding one.
//
// The embedded time.Time gives Timestamp all of time.Time's methods.
type Timestamp struct{ time.Time }

// NewTimestamp returns a pointer to t as a Timestamp, the form optional
// members of generated structures take.
func NewTimestamp(t time.Time) *Timestamp { return &Timestamp{t} }

// MarshalJSON implements json.Marshaler.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return appendEpochMillis(nil, t.UnixMilli()), nil
}

func appendEpochMillis(b []byte, ms int64) []byte {
	if ms < 0 {
		b = append(b, '-')
		if ms == math.MinInt64 {
			ms++ // unreachable for real times; avoid overflow
		}
		ms = -ms
	}
	b = strconv.AppendInt(b, ms/1000, 10)
	if frac := ms % 1000; frac != 0 {
		f := strconv.AppendInt([]byte{'.'}, 1000+frac, 10) // ".1xyz"
		f = append(f[:1], f[2:]...)                        // ".xyz"
		b = append(b, bytes.TrimRight(f, "0")...)
	}
	return b
}

// errTimestamp is wrapped in an API error by the request decoder.
var errTimestamp = errors.New("timestamp must be epoch seconds as a JSON number")

// maxEpochSeconds bounds accepted timestamps (about year 5138).
const maxEpochSeconds = 1e11

// UnmarshalJSON implements json.Unmarshaler. null leaves t unchanged.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" {
		return nil
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	tt, err := parseEpochSeconds(s)
	if err != nil {
		return err
	}
	t.Time = tt
	return nil
}

// parseEpochSeconds parses a decimal number of seconds since the epoch.
// Plain decimals are converted exactly (to the nanosecond); exponent forms go
// through float64 and are rounded to the microsecond.
func parseEpochSeconds(s string) (time.Time, error) {
	if s == "" || len(s) > 64 {
		return time.Time{}, errTimestamp
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > maxEpochSeconds {
		return time.Time{}, errTimestamp
	}
	if strings.ContainsAny(s, "eE") {
		us := math.Round(f * 1e6)
		return time.UnixMicro(int64(us)).UTC(), nil
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	intPart, fracPart, _ := strings.Cut(s, ".")
	sec := int64(0)
	if intPart != "" {
		if sec, err = strconv.ParseInt(intPart, 10, 64); err != nil {
			return time.Time{}, errTimestamp
		}
	}
	nsec := int64(0)
	if fracPart != "" {
		if len(fracPart) > 9 {
			fracPart = fracPart[:9]
		}
		fracPart += strings.Repeat("0", 9-len(fracPart))
		if nsec, err = strconv.ParseInt(fracPart, 10, 64); err != nil {
			return time.Time{}, errTimestamp
		}
	}
	if neg {
		sec, nsec = -sec, -nsec
	}
	return time.Unix(sec, nsec).UTC(), nil
}
