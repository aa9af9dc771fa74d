package awsjson

import (
	"encoding/json"
	"testing"
	"time"
)

func TestTimestampMarshal(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Unix(1700000000, 0), "1700000000"},
		{time.Unix(1700000000, 123_000_000), "1700000000.123"},
		{time.Unix(1700000000, 500_000_000), "1700000000.5"},
		{time.Unix(1700000000, 120_999_999), "1700000000.12"}, // truncated to ms
		{time.Unix(1700000000, 7_000_000), "1700000000.007"},
		{time.Unix(0, 0), "0"},
		{time.Unix(-1, 500_000_000), "-0.5"},
		{time.Unix(-2, 0), "-2"},
	} {
		b, err := json.Marshal(Timestamp{tc.t})
		if err != nil || string(b) != tc.want {
			t.Errorf("Marshal(%v) = %s, %v; want %s", tc.t, b, err, tc.want)
		}
		// Round trip at millisecond precision.
		var back Timestamp
		if err := json.Unmarshal(b, &back); err != nil || back.UnixMilli() != tc.t.UnixMilli() {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", b, back.Time, err, tc.t)
		}
	}
}

func TestTimestampUnmarshal(t *testing.T) {
	want := time.Unix(1700000000, 123_000_000).UTC()
	for _, in := range []string{
		"1700000000.123", "1.700000000123E9", "1.700000000123e+9", `"1700000000.123"`,
		` "1700000000.123000000000" `, "1700000000.1230",
	} {
		var ts Timestamp
		if err := json.Unmarshal([]byte(in), &ts); err != nil || !ts.Equal(want) {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", in, ts.Time, err, want)
		}
	}
	var ts Timestamp
	if err := json.Unmarshal([]byte("1700000000.123456789"), &ts); err != nil || ts.Nanosecond() != 123456789 {
		t.Errorf("nanoseconds lost: %v %v", ts.Time, err)
	}
	for _, bad := range []string{`"2023-11-14T22:13:20Z"`, `""`, `true`, `{}`, `[1]`, `1e300`, `"NaN"`, `"Inf"`, `"0x10"`, `"1.5.5"`} {
		var ts Timestamp
		if err := json.Unmarshal([]byte(bad), &ts); err == nil {
			t.Errorf("Unmarshal(%s) = %v; want an error", bad, ts.Time)
		}
	}
	// null leaves the value alone; in a pointer member it stays nil.
	var s struct {
		T *Timestamp `json:"t"`
	}
	if err := json.Unmarshal([]byte(`{"t":null}`), &s); err != nil || s.T != nil {
		t.Errorf("null: %v %v", s.T, err)
	}
}
