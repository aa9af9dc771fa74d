package policy

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Condition operator families.
type opBase uint8

const (
	opString     opBase = iota + 1 // StringEquals / StringNotEquals
	opStringFold                   // StringEqualsIgnoreCase / StringNotEqualsIgnoreCase
	opStringLike                   // StringLike / StringNotLike
	opNumeric
	opDate
	opBool
	opBinary
	opIP   // IpAddress / NotIpAddress
	opArn  // ArnEquals, ArnLike / ArnNotEquals, ArnNotLike (identical in AWS)
	opNull // Null
)

type cmpKind uint8

const (
	cmpEq cmpKind = iota
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

type opInfo struct {
	base   opBase
	cmp    cmpKind
	negate bool
}

var operators = map[string]opInfo{
	"StringEquals":              {opString, cmpEq, false},
	"StringNotEquals":           {opString, cmpEq, true},
	"StringEqualsIgnoreCase":    {opStringFold, cmpEq, false},
	"StringNotEqualsIgnoreCase": {opStringFold, cmpEq, true},
	"StringLike":                {opStringLike, cmpEq, false},
	"StringNotLike":             {opStringLike, cmpEq, true},
	"NumericEquals":             {opNumeric, cmpEq, false},
	"NumericNotEquals":          {opNumeric, cmpEq, true},
	"NumericLessThan":           {opNumeric, cmpLt, false},
	"NumericLessThanEquals":     {opNumeric, cmpLe, false},
	"NumericGreaterThan":        {opNumeric, cmpGt, false},
	"NumericGreaterThanEquals":  {opNumeric, cmpGe, false},
	"DateEquals":                {opDate, cmpEq, false},
	"DateNotEquals":             {opDate, cmpEq, true},
	"DateLessThan":              {opDate, cmpLt, false},
	"DateLessThanEquals":        {opDate, cmpLe, false},
	"DateGreaterThan":           {opDate, cmpGt, false},
	"DateGreaterThanEquals":     {opDate, cmpGe, false},
	"Bool":                      {opBool, cmpEq, false},
	"BinaryEquals":              {opBinary, cmpEq, false},
	"IpAddress":                 {opIP, cmpEq, false},
	"NotIpAddress":              {opIP, cmpEq, true},
	"ArnEquals":                 {opArn, cmpEq, false},
	"ArnLike":                   {opArn, cmpEq, false},
	"ArnNotEquals":              {opArn, cmpEq, true},
	"ArnNotLike":                {opArn, cmpEq, true},
	"Null":                      {opNull, cmpEq, false},
}

type setKind uint8

const (
	setNone setKind = iota
	setAny          // ForAnyValue:
	setAll          // ForAllValues:
)

// ccond is a compiled Condition.
type ccond struct {
	key      string
	info     opInfo
	set      setKind
	ifExists bool
	vals     []string
	vars     []bool // vals[i] holds a policy variable (2012-10-17 only)
	anyVar   bool
	nums     []number
	times    []time.Time
	nets     []netip.Prefix
	bins     [][]byte
	nulls    []bool // Null: true means "the key must be absent"
}

// parseOperator splits "ForAnyValue:StringLikeIfExists" into its parts.
func parseOperator(name string) (set setKind, info opInfo, ifExists bool, err error) {
	base := name
	if rest, ok := strings.CutPrefix(base, "ForAnyValue:"); ok {
		set, base = setAny, rest
	} else if rest, ok := strings.CutPrefix(base, "ForAllValues:"); ok {
		set, base = setAll, rest
	}
	info, ok := operators[base]
	if !ok {
		if b, cut := strings.CutSuffix(base, "IfExists"); cut {
			if info, ok = operators[b]; ok && info.base != opNull {
				return set, info, true, nil
			}
		}
		return 0, opInfo{}, false, fmt.Errorf("unknown condition operator %q", name)
	}
	if info.base == opNull && set != setNone {
		return 0, opInfo{}, false, fmt.Errorf("condition operator %q: Null cannot take ForAnyValue or ForAllValues", name)
	}
	return set, info, false, nil
}

func compileCondition(c *Condition, vars bool) (ccond, error) {
	set, info, ifExists, err := parseOperator(c.Operator)
	if err != nil {
		return ccond{}, err
	}
	cc := ccond{key: c.Key, info: info, set: set, ifExists: ifExists, vals: c.Values}
	if err := checkConditionKey(c.Key); err != nil {
		return cc, fmt.Errorf("condition %s: %v", c.Operator, err)
	}
	if len(c.Values) == 0 {
		return cc, fmt.Errorf("condition %s %q has no values", c.Operator, c.Key)
	}
	bad := func(v, what string) error {
		return fmt.Errorf("condition %s %q: invalid %s %q", c.Operator, c.Key, what, v)
	}
	switch info.base {
	case opString, opStringFold, opStringLike, opArn:
		// Policy variables are substituted in string and ARN values only.
		if vars {
			cc.vars = make([]bool, len(c.Values))
			for i, v := range c.Values {
				if strings.Contains(v, "${") {
					cc.vars[i], cc.anyVar = true, true
				}
			}
		}
		if info.base == opArn {
			for i, v := range c.Values {
				if !(cc.anyVar && cc.vars[i]) && !arnSegments(v) {
					return cc, bad(v, "ARN (want arn:partition:service:region:account:resource)")
				}
			}
		}
	case opNumeric:
		for _, v := range c.Values {
			n, ok := parseNumber(v)
			if !ok {
				return cc, bad(v, "number")
			}
			cc.nums = append(cc.nums, n)
		}
	case opDate:
		for _, v := range c.Values {
			t, ok := parseDate(v)
			if !ok {
				return cc, bad(v, "date (want ISO 8601, e.g. 2026-01-02T15:04:05Z, or epoch seconds)")
			}
			cc.times = append(cc.times, t)
		}
	case opBool:
		for _, v := range c.Values {
			if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
				return cc, bad(v, "boolean (want \"true\" or \"false\")")
			}
		}
	case opBinary:
		for _, v := range c.Values {
			b, err := base64.StdEncoding.Strict().DecodeString(v)
			if err != nil {
				return cc, bad(v, "base64 value")
			}
			cc.bins = append(cc.bins, b)
		}
	case opIP:
		for _, v := range c.Values {
			p, ok := parseCIDR(v)
			if !ok {
				return cc, bad(v, "IP address or CIDR block")
			}
			cc.nets = append(cc.nets, p)
		}
	case opNull:
		for _, v := range c.Values {
			switch {
			case strings.EqualFold(v, "true"):
				cc.nulls = append(cc.nulls, true)
			case strings.EqualFold(v, "false"):
				cc.nulls = append(cc.nulls, false)
			default:
				return cc, bad(v, "Null value (want \"true\" or \"false\")")
			}
		}
	}
	return cc, nil
}

// checkConditionKey wants "prefix:name", as AWS does ("aws:SourceIp",
// "ecr:ResourceTag/team", "wharf:ImageMaxSeverity").
func checkConditionKey(k string) error {
	pre, name, ok := strings.Cut(k, ":")
	if !ok || pre == "" || name == "" {
		return fmt.Errorf("invalid condition key %q: keys must be prefixed by a service, e.g. \"aws:SourceIp\"", k)
	}
	if strings.ContainsAny(k, " \t\r\n") {
		return fmt.Errorf("invalid condition key %q: keys cannot contain whitespace", k)
	}
	return nil
}

// eval evaluates the condition for a request. The rules, as AWS states
// them:
//   - a key absent from the request makes positive operators false and
//     negated ones (StringNotEquals, NotIpAddress, ...) true; ...IfExists
//     makes any operator true; ForAllValues is true (nothing fails) and
//     ForAnyValue false (nothing matches); Null tests presence;
//   - the values of one key are ORed: a request value satisfies a positive
//     operator when it matches any of them, a negated one when it matches
//     none of them;
//   - ForAnyValue wants some request value to satisfy the operator,
//     ForAllValues every one; without a set prefix a positive operator
//     wants some value and a negated one every value (so the negated
//     operator is exactly the negation of the positive one);
//   - a request value of the wrong type (not a number for Numeric..., not
//     an IP for IpAddress, ...) satisfies nothing.
//
// ok is false when a policy variable could not be resolved: the whole
// statement then does not apply.
func (c *ccond) eval(e *evalCtx) (result, ok bool) {
	got, present := e.lookup(c.key)
	if c.info.base == opNull {
		for _, wantAbsent := range c.nulls {
			if wantAbsent != present {
				return true, true
			}
		}
		return false, true
	}
	if !present {
		switch {
		case c.ifExists:
			return true, true
		case c.set == setAll:
			return true, true
		case c.set == setAny:
			return false, true
		}
		return c.info.negate, true
	}
	vals := c.vals
	if c.anyVar {
		// Resolve the variables once for all request values.
		vals = make([]string, len(c.vals))
		for i, v := range c.vals {
			if !c.vars[i] {
				vals[i] = v
				continue
			}
			r, ok := resolve(v, e, c.info.base == opStringLike || c.info.base == opArn)
			if !ok {
				return false, false
			}
			vals[i] = r
		}
	}
	all := c.set == setAll || (c.set == setNone && c.info.negate)
	for _, r := range got {
		sat := c.satisfies(r, vals)
		if all && !sat {
			return false, true
		}
		if !all && sat {
			return true, true
		}
	}
	return all, true
}

// satisfies reports whether one request value satisfies the operator.
func (c *ccond) satisfies(r string, vals []string) bool {
	var m bool
	switch c.info.base {
	case opString:
		for _, v := range vals {
			if r == v {
				m = true
				break
			}
		}
	case opStringFold:
		for _, v := range vals {
			if strings.EqualFold(r, v) {
				m = true
				break
			}
		}
	case opStringLike:
		for i, v := range vals {
			if glob(v, r, false, c.anyVar && c.vars[i]) {
				m = true
				break
			}
		}
	case opArn:
		for i, v := range vals {
			if arnMatch(v, r, c.anyVar && c.vars[i]) {
				m = true
				break
			}
		}
	case opNumeric:
		n, ok := parseNumber(r)
		if !ok {
			return false
		}
		for _, v := range c.nums {
			if cmpHolds(n.cmp(v), c.info.cmp) {
				m = true
				break
			}
		}
	case opDate:
		t, ok := parseDate(r)
		if !ok {
			return false
		}
		for _, v := range c.times {
			if cmpHolds(t.Compare(v), c.info.cmp) {
				m = true
				break
			}
		}
	case opBool:
		if !strings.EqualFold(r, "true") && !strings.EqualFold(r, "false") {
			return false
		}
		for _, v := range vals {
			if strings.EqualFold(r, v) {
				m = true
				break
			}
		}
	case opBinary:
		b, err := base64.StdEncoding.Strict().DecodeString(r)
		if err != nil {
			return false
		}
		for _, v := range c.bins {
			if bytes.Equal(b, v) {
				m = true
				break
			}
		}
	case opIP:
		a, err := netip.ParseAddr(r)
		if err != nil {
			return false
		}
		a = a.Unmap().WithZone("")
		for _, p := range c.nets {
			if p.Contains(a) {
				m = true
				break
			}
		}
	}
	return m != c.info.negate
}

func cmpHolds(c int, k cmpKind) bool {
	switch k {
	case cmpEq:
		return c == 0
	case cmpLt:
		return c < 0
	case cmpLe:
		return c <= 0
	case cmpGt:
		return c > 0
	case cmpGe:
		return c >= 0
	}
	return false
}

// number is an integer when it fits, so large integers compare exactly;
// otherwise a float64.
type number struct {
	isInt bool
	i     int64
	f     float64
}

func (a number) cmp(b number) int {
	if a.isInt && b.isInt {
		switch {
		case a.i < b.i:
			return -1
		case a.i > b.i:
			return 1
		}
		return 0
	}
	x, y := a.float(), b.float()
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func (a number) float() float64 {
	if a.isInt {
		return float64(a.i)
	}
	return a.f
}

// parseNumber accepts decimal numbers: [+-]digits[.digits][e[+-]digits].
func parseNumber(s string) (number, bool) {
	if !isDecimal(s) {
		return number{}, false
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return number{isInt: true, i: i}, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return number{}, false // out of range
	}
	return number{f: f}, true
}

func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	n := digits()
	if i < len(s) && s[i] == '.' {
		i++
		n += digits()
	}
	if n == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

var dateLayouts = []string{
	time.RFC3339Nano, // also matches without fractional seconds
	"2006-01-02T15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02",
	"20060102T150405Z",
}

// parseDate accepts the ISO 8601 forms above (UTC when no zone is given)
// and epoch seconds, as AWS date conditions do.
func parseDate(s string) (time.Time, bool) {
	if isDecimal(s) && !strings.ContainsAny(s, "eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(i, 0).UTC(), true
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f > 1e15 || f < -1e15 {
			return time.Time{}, false
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), true
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseCIDR accepts a CIDR block or a single address (a /32 or /128).
func parseCIDR(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		if p.Addr().Is4In6() {
			bits := p.Bits() - 96
			if bits < 0 {
				return netip.Prefix{}, false
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), bits)
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}
