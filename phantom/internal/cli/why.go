package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/catalog"
	"phantomstack.dev/shared/dotenv"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/jsonout"
)

// WhyOptions configures `phantom why`.
type WhyOptions struct {
	F    *Factory
	Key  string
	JSON bool
}

// WhyReport is why's --json output.
type WhyReport struct {
	Key      string        `json:"key"`
	InVault  bool          `json:"in_vault"`
	Policy   string        `json:"policy"`
	Explicit bool          `json:"policy_explicit"`
	Route    string        `json:"route"`
	Files    []WhyFileInfo `json:"files"`
}

// WhyFileInfo is what one env file holds for the key.
type WhyFileInfo struct {
	Path   string `json:"path"`
	Line   int    `json:"line"`
	State  string `json:"state"` // protected | stale-token | plaintext-secret | config | public | empty
	Reason string `json:"reason"`
}

func newWhyCmd(f *Factory, runF func(*WhyOptions) error) *cobra.Command {
	opts := &WhyOptions{F: f}
	cmd := &cobra.Command{
		Use:         "why KEY",
		Annotations: readOnlyInterrupted,
		Short:       "Explain how phantom treats one key and why",
		Long: `Explain what phantom does with KEY: whether it is in the vault, its policy
(proxy, inject or deny) and where that comes from, and for each env file
whether the value there is protected, a stale token, a plaintext secret or
plain configuration — with the rule that decided it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom why"
			opts.Key = args[0]
			if runF != nil {
				return runF(opts)
			}
			return whyRun(cmd.Context(), opts)
		},
	}
	jsonout.AddFlag(cmd, &opts.JSON, "print JSON")
	return cmd
}

func whyRun(ctx context.Context, o *WhyOptions) error {
	f := o.F
	p, err := f.Project()
	if err != nil {
		return err
	}
	rep := WhyReport{Key: o.Key, Route: catalog.RouteFor(o.Key), Files: []WhyFileInfo{}}
	rep.Policy, rep.Explicit = p.Policy(o.Key)
	var tok string
	v, err := f.OpenVault(ctx, p, false)
	switch {
	case err == nil:
		if s := v.Payload().Secrets[o.Key]; s != nil {
			rep.InVault, tok = true, s.Token
		}
	case exitcode.Code(err) == exitcode.NotFound:
	default:
		return err
	}
	ov := p.Config.Overrides()
	for _, path := range p.Config.EnvFiles() {
		e, err := loadEnvFile(p, path)
		if err != nil {
			return err
		}
		for _, ent := range e.File.Entries() {
			if ent.Key != o.Key {
				continue
			}
			info := WhyFileInfo{Path: e.Rel, Line: ent.Line}
			switch {
			case isToken(ent.Value) && ent.Value == tok:
				info.State, info.Reason = "protected", "the value is this secret's phm_ token"
			case isToken(ent.Value) && tok != "":
				info.State, info.Reason = "stale-token", "a phm_ token that is not this secret's current one (rotated, or from another project); write the current one with: phantom sync --env-file "+shellArg(e.Rel)+" "+o.Key
			case isToken(ent.Value):
				info.State, info.Reason = "stale-token", "a phm_ token the vault does not know, and "+o.Key+" is not in the vault (removed, or from another project); delete the line, or run: phantom remove "+o.Key+" --env-file "+shellArg(e.Rel)
			case ent.Value == "":
				info.State, info.Reason = "empty", "no value"
			default:
				vd := dotenv.Classify(ent.Key, ent.Value, dotenv.Overrides{Secret: ov.Secret, Public: ov.Public})
				info.Reason = vd.Reason
				switch vd.Class {
				case dotenv.Secret:
					info.State = "plaintext-secret"
					info.Reason += "; protect it with: phantom init"
				case dotenv.Public:
					info.State = "public"
				default:
					info.State = "config"
				}
			}
			rep.Files = append(rep.Files, info)
		}
	}
	if o.JSON {
		return jsonout.Write(f.IO.Out, rep)
	}
	w := f.IO.Out
	if rep.InVault {
		fmt.Fprintf(w, "%s is in the vault.\n", o.Key)
	} else {
		fmt.Fprintf(w, "%s is not in the vault.\n", o.Key)
	}
	src := "default"
	if rep.Explicit {
		src = "set in " + ConfigFile
	} else if catalog.IsAWSCredential(o.Key) {
		src = "default: an AWS credential; children get session credentials made from it on the proxy's credentials endpoint"
	} else if rep.Route != "" {
		src = "default: the built-in " + rep.Route + " route owns it"
	} else {
		src = "default: no built-in route owns it"
	}
	fmt.Fprintf(w, "Policy: %s (%s)\n", rep.Policy, src)
	if len(rep.Files) == 0 {
		fmt.Fprintf(w, "No env file of this project mentions %s.\n", o.Key)
	}
	for _, fi := range rep.Files {
		fmt.Fprintf(w, "%s:%d: %s — %s\n", fi.Path, fi.Line, fi.State, fi.Reason)
	}
	return nil
}
