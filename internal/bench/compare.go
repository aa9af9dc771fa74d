package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// Target is one row of the comparison table: a metric of a case, the median
// of which is compared between registry A (the candidate) and B (the
// reference).
type Target struct {
	Case   string
	Metric string
	Title  string
	Unit   string
	// Ratio target on A/B: A/B >= MinRatio if MinRatio > 0, A/B <= MaxRatio
	// if MaxRatio > 0.
	MinRatio, MaxRatio float64
	// Absolute bound on A's median: <= MaxA if MaxA > 0.
	MaxA float64
}

func (t Target) describe(a string) string {
	var s []string
	if t.MinRatio > 0 {
		s = append(s, fmt.Sprintf(">=%gx", t.MinRatio))
	}
	if t.MaxRatio > 0 {
		s = append(s, fmt.Sprintf("<=%gx", t.MaxRatio))
	}
	if t.MaxA > 0 {
		s = append(s, fmt.Sprintf("%s<=%g%s", a, t.MaxA, t.Unit))
	}
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ", ")
}

// DefaultTargets are the goals of Wharf (A) against distribution (B).
var DefaultTargets = []Target{
	{Case: "blob-push-mono", Metric: "mb_per_s", Title: "blob push, monolithic", Unit: "MB/s", MinRatio: 1.25},
	{Case: "blob-push-16MiB", Metric: "mb_per_s", Title: "blob push, 16MiB chunks", Unit: "MB/s", MinRatio: 1.25},
	{Case: "blob-pull", Metric: "mb_per_s", Title: "blob pull", Unit: "MB/s", MinRatio: 1.3},
	{Case: "manifest-get", Metric: "req_per_s", Title: "manifest GET", Unit: "req/s", MinRatio: 6},
	{Case: "manifest-get", Metric: "p99_ms", Title: "manifest GET p99", Unit: "ms", MaxA: 15},
	{Case: "pull-storm", Metric: "seconds", Title: "pull storm total time", Unit: "s", MaxRatio: 0.55},
	{Case: "pull-storm", Metric: "peak_rss_mib", Title: "pull storm peak RSS", Unit: "MiB", MaxA: 150},
	{Case: "small-push", Metric: "images_per_s", Title: "small push", Unit: "images/s", MinRatio: 2},
	{Case: "tags-list", Metric: "req_per_s", Title: "tags list (full list)", Unit: "req/s", MinRatio: 4},
	// Informational: CPU seconds each side spent in the measured phase,
	// to tell whether the server or the client bounds a figure.
	{Case: "blob-pull-verify", Metric: "mb_per_s", Title: "blob pull, hashing client", Unit: "MB/s"},
	{Case: "blob-pull", Metric: "server_cpu_s", Title: "blob pull server CPU", Unit: "s"},
	{Case: "blob-pull", Metric: "client_cpu_s", Title: "blob pull client CPU", Unit: "s"},
	{Case: "pull-storm", Metric: "server_cpu_s", Title: "pull storm server CPU", Unit: "s"},
	{Case: "pull-storm", Metric: "client_cpu_s", Title: "pull storm client CPU", Unit: "s"},
	{Case: "blob-push-mono", Metric: "server_cpu_s", Title: "blob push server CPU", Unit: "s"},
	{Case: "manifest-get", Metric: "server_cpu_s", Title: "manifest GET server CPU", Unit: "s"},
}

// ReadResults reads JSON lines (as printed by the scenarios, plus lines of
// the same shape with extra metrics such as peak_rss_mib) and returns, per
// case, label and metric, the values of every line. Lines that are not JSON
// objects are ignored; lines with errors count only for their extra metrics.
func ReadResults(r io.Reader) (map[string]map[string]map[string][]float64, error) {
	out := map[string]map[string]map[string][]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var res Result
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			continue
		}
		if res.Case == "" {
			res.Case = res.Scenario
		}
		if res.Errors > 0 {
			continue
		}
		byLabel := out[res.Case]
		if byLabel == nil {
			byLabel = map[string]map[string][]float64{}
			out[res.Case] = byLabel
		}
		m := byLabel[res.Label]
		if m == nil {
			m = map[string][]float64{}
			byLabel[res.Label] = m
		}
		for k, v := range res.Metrics {
			m[k] = append(m[k], v)
		}
	}
	return out, sc.Err()
}

// Row is a computed line of the comparison table.
type Row struct {
	Target
	A, B   float64 // medians, NaN when missing
	NA, NB int     // number of samples
	Ratio  float64 // A/B, NaN when not computable
	Status string  // PASS, MISS or n/a
}

// Compare computes the rows of targets from results for labels a and b.
func Compare(results map[string]map[string]map[string][]float64, a, b string, targets []Target) []Row {
	rows := make([]Row, 0, len(targets))
	for _, t := range targets {
		row := Row{Target: t, A: math.NaN(), B: math.NaN(), Ratio: math.NaN()}
		if byLabel := results[t.Case]; byLabel != nil {
			if va := byLabel[a][t.Metric]; len(va) > 0 {
				row.A, row.NA = Median(va), len(va)
			}
			if vb := byLabel[b][t.Metric]; len(vb) > 0 {
				row.B, row.NB = Median(vb), len(vb)
			}
		}
		if !math.IsNaN(row.A) && !math.IsNaN(row.B) && row.B != 0 {
			row.Ratio = row.A / row.B
		}
		row.Status = "n/a"
		pass, known := true, false
		if t.MinRatio > 0 || t.MaxRatio > 0 {
			if !math.IsNaN(row.Ratio) {
				known = true
				if t.MinRatio > 0 && row.Ratio < t.MinRatio {
					pass = false
				}
				if t.MaxRatio > 0 && row.Ratio > t.MaxRatio {
					pass = false
				}
			} else {
				pass = false
			}
		}
		if t.MaxA > 0 {
			if !math.IsNaN(row.A) {
				known = true
				if row.A > t.MaxA {
					pass = false
				}
			} else {
				pass = false
			}
		}
		switch {
		case known && pass:
			row.Status = "PASS"
		case known:
			row.Status = "MISS"
		}
		rows = append(rows, row)
	}
	return rows
}

// PrintTable writes rows as an aligned table.
func PrintTable(w io.Writer, rows []Row, a, b string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\tunit\t%s median\t%s median\tratio %s/%s\ttarget\tresult\n", a, b, a, b)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Title, r.Unit, fmtNum(r.A, r.NA), fmtNum(r.B, r.NB), fmtRatio(r.Ratio), r.Target.describe(a), r.Status)
	}
	return tw.Flush()
}

func fmtNum(v float64, n int) string {
	if math.IsNaN(v) {
		return "-"
	}
	var s string
	switch av := math.Abs(v); {
	case av >= 1000:
		s = fmt.Sprintf("%.0f", v)
	case av >= 100:
		s = fmt.Sprintf("%.1f", v)
	default:
		s = fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%s (n=%d)", s, n)
}

func fmtRatio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v)
}
