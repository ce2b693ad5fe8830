package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"time"
)

// [aws] settings: how phantom serves AWS credentials to a child.
//
//	[aws]
//	session_duration = "1h"     # lifetime of the session credentials served (15m–12h)
//	sts_endpoint = "https://…"  # where phantom asks STS for them (default: STS's own)
//	serve_long_lived = false    # serve the stored key itself instead
//
// Everything here that hands out more — a session longer than the default
// hour, another STS endpoint (it receives requests signed with the
// long-lived key), serving the long-lived key — is honoured only once a
// human approved it (see AWSSettings.NeedsApproval); shortening the session
// never needs approval.

// Session lifetimes accepted in [aws] session_duration. STS GetSessionToken
// allows 15 minutes to 36 hours for an IAM user; phantom caps it at 12.
const (
	AWSDefaultSessionDuration = time.Hour
	AWSMinSessionDuration     = 15 * time.Minute
	AWSMaxSessionDuration     = 12 * time.Hour
)

// AWSApprovalKey is the key of the approval of the [aws] settings among the
// vault's approvals.
const AWSApprovalKey = "config:aws"

var awsKeys = []string{"session_duration", "sts_endpoint", "serve_long_lived"}

// AWSSettings are the [aws] settings.
type AWSSettings struct {
	// SessionDuration is the lifetime asked of STS (0: unset, the default).
	SessionDuration time.Duration
	// STSEndpoint replaces STS's own regional endpoint ("": unset).
	STSEndpoint string
	// ServeLongLived serves the stored key instead of session credentials.
	ServeLongLived bool
	Line           int // line of the [aws] table, 0 when absent
}

// Duration is the effective session lifetime.
func (a AWSSettings) Duration() time.Duration {
	if a.SessionDuration == 0 {
		return AWSDefaultSessionDuration
	}
	return a.SessionDuration
}

// NeedsApproval lists, in words, the settings that hand out more than the
// defaults; empty when the settings need no approval.
func (a AWSSettings) NeedsApproval() []string {
	var out []string
	if a.Duration() > AWSDefaultSessionDuration {
		out = append(out, fmt.Sprintf("session_duration = %q (longer than the default %v)", formatDuration(a.Duration()), formatDuration(AWSDefaultSessionDuration)))
	}
	if a.STSEndpoint != "" {
		out = append(out, fmt.Sprintf("sts_endpoint = %q (receives requests signed with the long-lived key)", a.STSEndpoint))
	}
	if a.ServeLongLived {
		out = append(out, "serve_long_lived = true (the child gets the long-lived key itself)")
	}
	return out
}

// CoveredBy reports whether approved, an approved baseline, allows a: the
// same endpoint (or STS's own), no longer a session, and the long-lived
// key only if that was approved. Anything tighter is covered.
func (a AWSSettings) CoveredBy(approved AWSSettings) bool {
	return (a.STSEndpoint == "" || a.STSEndpoint == approved.STSEndpoint) &&
		a.Duration() <= approved.Duration() &&
		(!a.ServeLongLived || approved.ServeLongLived)
}

// ApprovalData is the canonical form of the settings stored with an
// approval, and ApprovalHash its digest.
func (a AWSSettings) ApprovalData() []byte {
	b, _ := json.Marshal(awsApprovalWire{int64(a.Duration() / time.Second), a.STSEndpoint, a.ServeLongLived})
	return b
}

type awsApprovalWire struct {
	Seconds        int64  `json:"session_duration_seconds"`
	STSEndpoint    string `json:"sts_endpoint"`
	ServeLongLived bool   `json:"serve_long_lived"`
}

// ApprovalHash identifies the settings an approval covers.
func (a AWSSettings) ApprovalHash() string {
	sum := sha256.Sum256(a.ApprovalData())
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ParseAWSApproval reads settings back from ApprovalData.
func ParseAWSApproval(data []byte) (AWSSettings, error) {
	var w awsApprovalWire
	if err := json.Unmarshal(data, &w); err != nil {
		return AWSSettings{}, err
	}
	return AWSSettings{SessionDuration: time.Duration(w.Seconds) * time.Second, STSEndpoint: w.STSEndpoint, ServeLongLived: w.ServeLongLived}, nil
}

func formatDuration(d time.Duration) string {
	h, m := d/time.Hour, d%time.Hour/time.Minute
	switch {
	case d%time.Minute != 0:
		return d.String()
	case m == 0:
		return fmt.Sprintf("%dh", h)
	case h == 0:
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%dh%dm", h, m)
}

func decodeAWS(ck *checker, p []string, tbl map[string]any, m *model) {
	ck.known(p, tbl, awsKeys)
	at := func(k string) []string { return append(slices.Clip(p), k) }
	m.aws.Line = ck.ix.lineOf(p)
	if v, ok := tbl["session_duration"]; ok {
		if s, ok := ck.str(at("session_duration"), v); ok {
			d, err := time.ParseDuration(s)
			switch {
			case err != nil:
				ck.errorf(at("session_duration"), "aws.session_duration %q is not a duration like \"1h\" or \"30m\"", s)
			case d < AWSMinSessionDuration || d > AWSMaxSessionDuration:
				ck.errorf(at("session_duration"), "aws.session_duration must be between 15m and 12h (STS's limits and phantom's cap), not %s", s)
			default:
				m.aws.SessionDuration = d
			}
		}
	}
	if v, ok := tbl["sts_endpoint"]; ok {
		if s, ok := ck.str(at("sts_endpoint"), v); ok {
			if err := checkSTSEndpoint(s); err != nil {
				ck.errorf(at("sts_endpoint"), "aws.sts_endpoint: %v", err)
			} else {
				m.aws.STSEndpoint = s
			}
		}
	}
	if v, ok := tbl["serve_long_lived"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			ck.typeError(at("serve_long_lived"), "true or false", v)
		} else {
			m.aws.ServeLongLived = b
		}
	}
}

// checkSTSEndpoint accepts an https URL, or plain http to a loopback host.
func checkSTSEndpoint(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q is not a URL like https://sts.example.com", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if ip := net.ParseIP(u.Hostname()); u.Hostname() == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("%q: plain http is allowed only for a loopback host (127.0.0.1, ::1, localhost); use https", s)
	}
	return fmt.Errorf("%q: the scheme must be https (or http for a loopback host)", s)
}

// AWS returns the [aws] settings.
func (c *Config) AWS() AWSSettings { return c.m.aws }
