package config

import (
	"strings"
	"testing"
	"time"
)

func TestAWSSettings(t *testing.T) {
	c := mustParse(t, head)
	if a := c.AWS(); a.Duration() != time.Hour || a.STSEndpoint != "" || a.ServeLongLived || len(a.NeedsApproval()) != 0 {
		t.Errorf("defaults: %+v, needs approval %q", a, a.NeedsApproval())
	}

	c = mustParse(t, head+"\n[aws]\nsession_duration = \"30m\"\n")
	if a := c.AWS(); a.Duration() != 30*time.Minute || len(a.NeedsApproval()) != 0 || a.Line != 5 {
		t.Errorf("a shorter session needs no approval: %+v, %q", a, a.NeedsApproval())
	}

	c = mustParse(t, head+"\n[aws]\nsession_duration = \"2h\"\nsts_endpoint = \"http://127.0.0.1:4566\"\nserve_long_lived = true\n")
	a := c.AWS()
	need := strings.Join(a.NeedsApproval(), "\n")
	for _, w := range []string{`session_duration = "2h"`, `sts_endpoint = "http://127.0.0.1:4566"`, "serve_long_lived = true"} {
		if !strings.Contains(need, w) {
			t.Errorf("NeedsApproval does not name %s:\n%s", w, need)
		}
	}

	// The approval round-trips and covers anything tighter, nothing looser.
	back, err := ParseAWSApproval(a.ApprovalData())
	if err != nil || back.Duration() != 2*time.Hour || back.STSEndpoint != a.STSEndpoint || !back.ServeLongLived {
		t.Fatalf("ParseAWSApproval = %+v, %v", back, err)
	}
	for _, tc := range []struct {
		s    AWSSettings
		want bool
	}{
		{AWSSettings{}, true},
		{AWSSettings{SessionDuration: 2 * time.Hour, STSEndpoint: "http://127.0.0.1:4566", ServeLongLived: true}, true},
		{AWSSettings{SessionDuration: 15 * time.Minute}, true},
		{AWSSettings{SessionDuration: 3 * time.Hour}, false},
		{AWSSettings{STSEndpoint: "https://sts.attacker.example"}, false},
	} {
		if got := tc.s.CoveredBy(back); got != tc.want {
			t.Errorf("%+v covered by %+v = %t, want %t", tc.s, back, got, tc.want)
		}
	}
	if (AWSSettings{ServeLongLived: true}).CoveredBy(AWSSettings{}) {
		t.Error("serve_long_lived covered by an approval without it")
	}
	if a.ApprovalHash() == (AWSSettings{}).ApprovalHash() || !strings.HasPrefix(a.ApprovalHash(), "sha256:") {
		t.Error("ApprovalHash does not tell settings apart")
	}
}

func TestAWSSettingsErrors(t *testing.T) {
	for src, want := range map[string]string{
		"session_duration = \"10m\"":            "between 15m and 12h",
		"session_duration = \"13h\"":            "between 15m and 12h",
		"session_duration = \"soon\"":           "not a duration",
		"session_duration = 3600":               "must be a string",
		"sts_endpoint = \"http://sts.example\"": "plain http is allowed only for a loopback host",
		"sts_endpoint = \"ftp://127.0.0.1\"":    "scheme must be https",
		"sts_endpoint = \"https://u:p@sts.x\"":  "not a URL",
		"serve_long_lived = \"yes\"":            "must be true or false",
		"session_duraton = \"1h\"":              `did you mean "session_duration"`,
	} {
		_, err := parse(FileName, []byte(head+"\n[aws]\n"+src+"\n"))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), ".phantom.toml:6:") {
			t.Errorf("%s: error %v, want one on line 6 containing %q", src, err, want)
		}
	}
}
