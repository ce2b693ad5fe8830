package leakscan

import (
	"slices"
)

// SARIF renders the report as SARIF 2.1.0 (OASIS), the format code-scanning
// dashboards ingest. One result per finding; the fingerprint goes in
// partialFingerprints so a dashboard tracks a finding across commits.
func SARIF(r *Report, version string) any {
	type msg struct {
		Text string `json:"text"`
	}
	type rule struct {
		ID               string `json:"id"`
		ShortDescription msg    `json:"shortDescription"`
	}
	type region struct {
		StartLine int `json:"startLine"`
	}
	type artifact struct {
		URI string `json:"uri"`
	}
	type physical struct {
		ArtifactLocation artifact `json:"artifactLocation"`
		Region           region   `json:"region"`
	}
	type location struct {
		PhysicalLocation physical `json:"physicalLocation"`
	}
	type result struct {
		RuleID              string            `json:"ruleId"`
		Level               string            `json:"level"`
		Message             msg               `json:"message"`
		Locations           []location        `json:"locations"`
		PartialFingerprints map[string]string `json:"partialFingerprints"`
		Properties          map[string]any    `json:"properties,omitempty"`
	}
	rules := []rule{}
	seen := map[string]bool{}
	results := []result{}
	for _, f := range r.Findings {
		if !seen[f.Rule] {
			seen[f.Rule] = true
			rules = append(rules, rule{ID: f.Rule, ShortDescription: msg{Text: ruleText(f)}})
		}
		props := map[string]any{"layer": f.Layer}
		if f.Commit != "" {
			props["commit"] = f.Commit
		}
		if f.Redacted != "" {
			props["redacted"] = f.Redacted
		}
		results = append(results, result{
			RuleID:              f.Rule,
			Level:               "error",
			Message:             msg{Text: f.Description},
			Locations:           []location{{PhysicalLocation: physical{ArtifactLocation: artifact{URI: f.File}, Region: region{StartLine: max(f.Line, 1)}}}},
			PartialFingerprints: map[string]string{"phantomCheck/v1": f.Fingerprint},
			Properties:          props,
		})
	}
	slices.SortFunc(rules, func(a, b rule) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool": map[string]any{"driver": map[string]any{
				"name":    "phantom check",
				"version": version,
				"rules":   rules,
			}},
			"results": results,
		}},
	}
}

func ruleText(f Finding) string {
	switch f.Layer {
	case LayerKnown:
		return "A value from this project's vault"
	case LayerEnv:
		return "A plaintext secret in an env file"
	}
	return f.Description
}
