package bench

import (
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ParseSize parses a byte count such as "256MiB", "16MiB", "1.5GiB", "512k",
// "100MB" or "4096". Binary suffixes (KiB, MiB, GiB, and k/K/m/M/g/G alone)
// are powers of 1024; decimal ones (KB, MB, GB) are powers of 1000.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("empty size")
	}
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	mult := float64(1)
	switch strings.ToLower(unit) {
	case "", "b":
	case "k", "ki", "kib":
		mult = 1 << 10
	case "m", "mi", "mib":
		mult = 1 << 20
	case "g", "gi", "gib":
		mult = 1 << 30
	case "kb":
		mult = 1e3
	case "mb":
		mult = 1e6
	case "gb":
		mult = 1e9
	default:
		return 0, fmt.Errorf("invalid size unit in %q", s)
	}
	r := v * mult
	if r > math.MaxInt64/2 {
		return 0, fmt.Errorf("size %q too large", s)
	}
	return int64(math.Round(r)), nil
}

// FormatSize renders n bytes with a binary unit, e.g. "16MiB".
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%dB", n)
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method, or 0 for an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	return sorted[rank-1]
}

// SortDurations sorts d in place and returns it.
func SortDurations(d []time.Duration) []time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d
}

// Median returns the median of v (mean of the two middle values for an even
// count), or NaN if v is empty. v is not modified.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// Chunk is the byte range [Start, End] (inclusive, as in Content-Range).
type Chunk struct{ Start, End int64 }

// Len returns the number of bytes of the chunk.
func (c Chunk) Len() int64 { return c.End - c.Start + 1 }

// ContentRange returns the value of the Content-Range header of the chunk as
// the distribution spec writes it: "<start>-<end>".
func (c Chunk) ContentRange() string { return fmt.Sprintf("%d-%d", c.Start, c.End) }

// SplitChunks splits size bytes in chunks of at most chunk bytes. A size of
// zero yields no chunk.
func SplitChunks(size, chunk int64) []Chunk {
	if size <= 0 {
		return nil
	}
	if chunk <= 0 || chunk > size {
		chunk = size
	}
	out := make([]Chunk, 0, (size+chunk-1)/chunk)
	for off := int64(0); off < size; off += chunk {
		end := min(off+chunk, size) - 1
		out = append(out, Chunk{off, end})
	}
	return out
}

// ParseLinkNext returns the target of the rel="next" link of an RFC 8288
// Link header value (several values may be joined with commas, and several
// headers passed), or "" if there is none. The target is returned as written:
// resolve it against the request URL (see ResolveLink).
func ParseLinkNext(headers ...string) string {
	for _, h := range headers {
		for len(h) > 0 {
			h = strings.TrimLeft(h, " \t,")
			if !strings.HasPrefix(h, "<") {
				// Not a link-value: skip to the next comma.
				i := strings.IndexByte(h, ',')
				if i < 0 {
					break
				}
				h = h[i+1:]
				continue
			}
			end := strings.IndexByte(h, '>')
			if end < 0 {
				break
			}
			target := h[1:end]
			h = h[end+1:]
			// Parameters run until the next comma outside quotes.
			params, rest := splitParams(h)
			h = rest
			for _, p := range params {
				k, v, ok := strings.Cut(p, "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
					continue
				}
				v = strings.Trim(strings.TrimSpace(v), `"`)
				for _, rel := range strings.Fields(v) {
					if strings.EqualFold(rel, "next") {
						return target
					}
				}
			}
		}
	}
	return ""
}

// splitParams reads ";param=value" items up to the first comma that is not
// inside a quoted string and returns them with the remainder after that comma.
func splitParams(s string) (params []string, rest string) {
	inQuote := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuote = !inQuote
		case ';':
			if !inQuote {
				if p := strings.TrimSpace(s[start:i]); p != "" {
					params = append(params, p)
				}
				start = i + 1
			}
		case ',':
			if !inQuote {
				if p := strings.TrimSpace(s[start:i]); p != "" {
					params = append(params, p)
				}
				return params, s[i+1:]
			}
		}
	}
	if p := strings.TrimSpace(s[start:]); p != "" {
		params = append(params, p)
	}
	return params, ""
}

// ResolveLink resolves a Location or Link target, which may be relative,
// against the URL of the request that returned it.
func ResolveLink(base *url.URL, ref string) (*url.URL, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("invalid link %q: %w", ref, err)
	}
	return base.ResolveReference(u), nil
}
