package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/awscreds"
	"phantomstack.dev/phantom/internal/catalog"
	"phantomstack.dev/phantom/internal/config"
	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/exitcode"
)

// AWS credentials reach a child only through the container-credentials
// endpoint (package awscreds), and what that endpoint serves is, by default,
// session credentials minted from the stored key with STS GetSessionToken:
// anything in the child can fetch them, so they must not outlive the
// session. docs/decisions.md, "AWS: session credentials, not the key".

// awsMode is what the endpoint serves.
type awsMode int

const (
	awsSession       awsMode = iota // session credentials minted from the stored key
	awsStoredSession                // stored temporary credentials, served as they are
	awsLongLived                    // the stored key itself ([aws] serve_long_lived, approved)
)

// awsPlan is what exec decided about AWS for one run.
type awsPlan struct {
	mode     awsMode
	stored   awscreds.Credentials // from the vault; never served in awsSession mode
	settings config.AWSSettings
	region   string
}

// awsApproved reports whether the project's [aws] settings are within what
// a human approved on this machine: the approval lives in the vault payload
// (unforgeable without the vault key), keyed config.AWSApprovalKey, with the
// approved settings as its Data. Settings that need no approval pass.
func awsApproved(pl *vault.Payload, s config.AWSSettings) bool {
	if len(s.NeedsApproval()) == 0 {
		return true
	}
	a := pl.Approvals[config.AWSApprovalKey]
	if a == nil {
		return false
	}
	approved, err := config.ParseAWSApproval(a.Data)
	if err != nil || a.Hash != approved.ApprovalHash() {
		return false
	}
	return s.CoveredBy(approved)
}

// awsApproval is the vault approval of s, as `phantom trust` stores it.
func awsApproval(s config.AWSSettings, now time.Time) *vault.Approval {
	return &vault.Approval{
		Hash:       s.ApprovalHash(),
		Detail:     "[aws] " + strings.Join(s.NeedsApproval(), "; "),
		ApprovedAt: now.UTC().Round(time.Second),
		Data:       s.ApprovalData(),
	}
}

// planAWS decides how this run serves AWS credentials. vars are the env
// files' variables (AWS_REGION there is the app's configuration).
func planAWS(f *Factory, p *Project, pl *vault.Payload, vars map[string]string) (*awsPlan, error) {
	s := p.Config.AWS()
	if !awsApproved(pl, s) {
		detail := "refused: " + ConfigFile + " [aws] has settings nobody approved on this machine: " + strings.Join(s.NeedsApproval(), "; ")
		f.record(p, audit.Event{Op: "aws.credentials", Detail: detail})
		return nil, exitcode.Errorf(exitcode.Refused, "%s:%d: [aws] has settings nobody has approved on this machine, so nothing was run:\n  %s\nIf you made them, approve them on your terminal: phantom trust",
			ConfigFile, s.Line, strings.Join(s.NeedsApproval(), "\n  "))
	}
	ap := &awsPlan{settings: s}
	get := func(n string) string {
		if sec := pl.Secrets[n]; sec != nil {
			return string(sec.Value)
		}
		return ""
	}
	ap.stored = awscreds.Credentials{
		AccessKeyID:     get(catalog.AWSAccessKeyID),
		SecretAccessKey: get(catalog.AWSSecretAccessKey),
		SessionToken:    get(catalog.AWSSessionToken),
	}
	switch {
	case ap.stored.SessionToken != "":
		// Temporary already (SSO, AssumeRole, aws-vault): STS refuses
		// GetSessionToken with them, and they expire on their own.
		ap.mode = awsStoredSession
	case s.ServeLongLived:
		ap.mode = awsLongLived
	default:
		ap.mode = awsSession
	}
	for _, v := range []string{vars["AWS_REGION"], vars["AWS_DEFAULT_REGION"], f.Env("AWS_REGION"), f.Env("AWS_DEFAULT_REGION")} {
		if v != "" && !isToken(v) {
			ap.region = v
			break
		}
	}
	// A bad region fails each fetch with a message (awscreds.CheckSettings),
	// not the whole run: the command may not use AWS at all.
	return ap, nil
}

// awsGetter returns the proxy's credentials function for the plan: every
// fetch is audited (op aws.credentials: what was served and until when, or
// why nothing was), and a failure is also said once on stderr, since an SDK
// may bury the endpoint's message.
func (f *Factory) awsGetter(ap *awsPlan, rec *auditQueue) func() (awscreds.Credentials, error) {
	var (
		mu       sync.Mutex
		lastWarn string
	)
	warn := func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		if msg != lastWarn {
			lastWarn = msg
			f.IO.Warnf("AWS credentials: %s", msg)
		}
	}
	audited := func(detail string) {
		rec.add(audit.Event{Op: "aws.credentials", Name: catalog.AWSAccessKeyID, Detail: detail})
	}

	switch ap.mode {
	case awsStoredSession, awsLongLived:
		creds := ap.stored
		what := "served the stored temporary credentials as they are (AWS_SESSION_TOKEN is set; phantom cannot shorten them)"
		if ap.mode == awsLongLived {
			what = "served the stored long-lived key ([aws] serve_long_lived = true, approved)"
		}
		return func() (awscreds.Credentials, error) {
			audited(what)
			return creds, nil
		}
	}
	m := &awscreds.Minter{
		Key:      ap.stored,
		Duration: ap.settings.Duration(),
		Region:   ap.region,
		Endpoint: ap.settings.STSEndpoint,
		Now:      f.Now,
	}
	return func() (awscreds.Credentials, error) {
		c, fetch, err := m.Get(context.Background())
		if err != nil {
			msg := err.Error()
			var e *awscreds.Error
			if errors.As(err, &e) {
				msg = e.Message
			} else {
				msg = "phantom could not mint session credentials"
			}
			audited("failed: " + msg)
			warn(msg)
			return c, err
		}
		how := "cached"
		if fetch.Minted {
			how = "minted with STS GetSessionToken"
		}
		audited(fmt.Sprintf("served session credentials %s (%s), expiring %s", c.AccessKeyID, how, c.Expiration.UTC().Format(time.RFC3339)))
		return c, nil
	}
}
