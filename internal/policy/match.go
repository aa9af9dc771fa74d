package policy

import (
	"strings"
	"unicode/utf8"
)

// glob reports whether s matches the pattern p, in which '*' matches any
// sequence of characters (including none) and '?' exactly one character.
// With fold, ASCII letters compare case-insensitively. With esc, a
// backslash in p makes the next byte literal; only patterns produced by
// variable substitution are escaped (see resolve), so a backslash in a
// policy as written is an ordinary character.
//
// The algorithm is the usual greedy match with a single backtrack point:
// O(len(p)·len(s)) at worst, without recursion or allocation.
func glob(p, s string, fold, esc bool) bool {
	px, sx := 0, 0
	starP, starS := -1, -1
	for px < len(p) || sx < len(s) {
		if px < len(p) {
			c := p[px]
			switch {
			case c == '*':
				starP, starS = px, sx
				px++
				continue
			case c == '?':
				if sx < len(s) {
					_, n := utf8.DecodeRuneInString(s[sx:])
					px++
					sx += n
					continue
				}
			case esc && c == '\\' && px+1 < len(p):
				if sx < len(s) && byteEq(p[px+1], s[sx], fold) {
					px += 2
					sx++
					continue
				}
			default:
				if sx < len(s) && byteEq(c, s[sx], fold) {
					px++
					sx++
					continue
				}
			}
		}
		if starP >= 0 && starS < len(s) {
			_, n := utf8.DecodeRuneInString(s[starS:])
			starS += n
			px, sx = starP+1, starS
			continue
		}
		return false
	}
	return true
}

func byteEq(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	if !fold {
		return false
	}
	if 'A' <= a && a <= 'Z' {
		a += 'a' - 'A'
	}
	if 'A' <= b && b <= 'Z' {
		b += 'a' - 'A'
	}
	return a == b
}

// arnMatch matches an ARN against an ARN pattern the way ArnLike and
// ArnEquals do: both are split into their six colon-separated segments
// (arn:partition:service:region:account:resource, the resource keeping any
// further colons) and each segment is matched on its own, so a wildcard
// never spans a colon of the first five. A value with fewer than six
// segments matches nothing.
func arnMatch(p, s string, esc bool) bool {
	for range 5 {
		ps, prest, ok1 := strings.Cut(p, ":")
		ss, srest, ok2 := strings.Cut(s, ":")
		if !ok1 || !ok2 || !glob(ps, ss, false, esc) {
			return false
		}
		p, s = prest, srest
	}
	return glob(p, s, false, esc)
}

// arnSegments reports whether s has the six segments of an ARN.
func arnSegments(s string) bool {
	return strings.HasPrefix(s, "arn:") && strings.Count(s, ":") >= 5
}

// arnAccount returns the account segment of an ARN, or "".
func arnAccount(arn string) string {
	if !strings.HasPrefix(arn, "arn:") {
		return ""
	}
	rest := arn
	for range 4 {
		var ok bool
		_, rest, ok = strings.Cut(rest, ":")
		if !ok {
			return ""
		}
	}
	acct, _, ok := strings.Cut(rest, ":")
	if !ok {
		return ""
	}
	return acct
}
