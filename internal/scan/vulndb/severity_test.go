package vulndb

import (
	"encoding/json"
	"testing"
)

func TestRate(t *testing.T) {
	const (
		v31crit = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" // 9.8
		v30med  = "CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H" // 6.5
		v31none = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N" // 0
		v31low  = "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N" // 1.8
		v2high  = "AV:N/AC:L/Au:N/C:C/I:C/A:C"                   // 10.0
		v40     = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
	)
	for _, tc := range []struct {
		name   string
		record string
		want   string
		score  float64
		ver    string
	}{
		{"v3.1", `{"severity": [{"type": "CVSS_V3", "score": "` + v31crit + `"}]}`, SeverityCritical, 9.8, "3.1"},
		{"v3.0", `{"severity": [{"type": "CVSS_V3", "score": "` + v30med + `"}]}`, SeverityMedium, 6.5, "3.0"},
		{"zero", `{"severity": [{"type": "CVSS_V3", "score": "` + v31none + `"}]}`, SeverityInformational, 0, "3.1"},
		{"low", `{"severity": [{"type": "CVSS_V3", "score": "` + v31low + `"}]}`, SeverityLow, 1.8, "3.1"},
		{"v2 has no critical", `{"severity": [{"type": "CVSS_V2", "score": "` + v2high + `"}]}`, SeverityHigh, 10, "2.0"},
		{"v4 before v3", `{"severity": [{"type": "CVSS_V3", "score": "` + v30med + `"}, {"type": "CVSS_V4", "score": "` + v40 + `"}]}`, SeverityCritical, 9.3, "4.0"},
		{"bad vector skipped", `{"severity": [{"type": "CVSS_V4", "score": "CVSS:4.0/AV:X"}, {"type": "CVSS_V3", "score": "` + v30med + `"}]}`, SeverityMedium, 6.5, "3.0"},
		{"package severity before record's", `{"severity": [{"type": "CVSS_V3", "score": "` + v31crit + `"}],
			"affected": [{"severity": [{"type": "CVSS_V3", "score": "` + v30med + `"}]}]}`, SeverityMedium, 6.5, "3.0"},
		{"ghsa word after cvss", `{"severity": [{"type": "CVSS_V3", "score": "` + v30med + `"}], "database_specific": {"severity": "CRITICAL"}}`, SeverityMedium, 6.5, "3.0"},
		{"ghsa word alone", `{"database_specific": {"severity": "MODERATE"}}`, SeverityMedium, 0, ""},
		{"ubuntu priority", `{"severity": [{"type": "CVSS_V3", "score": "` + v31crit + `"}, {"type": "Ubuntu", "score": "negligible"}]}`, SeverityInformational, 9.8, "3.1"},
		{"ubuntu untriaged falls through", `{"severity": [{"type": "Ubuntu", "score": "untriaged"}, {"type": "CVSS_V3", "score": "` + v30med + `"}]}`, SeverityMedium, 6.5, "3.0"},
		{"ubuntu_priority", `{"affected": [{"ecosystem_specific": {"ubuntu_priority": "critical"}}]}`, SeverityCritical, 0, ""},
		{"debian urgency", `{"severity": [{"type": "CVSS_V3", "score": "` + v31crit + `"}], "affected": [{"ecosystem_specific": {"urgency": "low**"}}]}`, SeverityLow, 9.8, "3.1"},
		{"debian not yet assigned", `{"severity": [{"type": "CVSS_V3", "score": "` + v31crit + `"}], "affected": [{"ecosystem_specific": {"urgency": "not yet assigned"}}]}`, SeverityCritical, 9.8, "3.1"},
		{"debian urgency in database_specific", `{"affected": [{"database_specific": {"urgency": "high"}}]}`, SeverityHigh, 0, ""},
		{"red hat impact", `{"id": "RLSA-2024:1234", "summary": "Important: openssl security update"}`, SeverityHigh, 0, ""},
		{"not red hat", `{"id": "GHSA-x", "summary": "Important: not a rating"}`, SeverityUndefined, 0, ""},
		{"odd shapes", `{"database_specific": {"severity": 3}, "affected": [{"ecosystem_specific": []}]}`, SeverityUndefined, 0, ""},
		{"nothing", `{}`, SeverityUndefined, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r osvRecord
			if err := json.Unmarshal([]byte(tc.record), &r); err != nil {
				t.Fatal(err)
			}
			af := osvAffected{}
			if len(r.Affected) > 0 {
				af = r.Affected[0]
			}
			got := rate(&r, &af)
			if got.severity != tc.want || got.score != tc.score || got.cvssVersion != tc.ver {
				t.Fatalf("got %+v, want %s %v %s", got, tc.want, tc.score, tc.ver)
			}
		})
	}
}
