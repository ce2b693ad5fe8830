package cli

import (
	"context"
	"fmt"

	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/stack/internal/config"
)

// DoctorAllReport is `stack doctor --all --json`: one DoctorReport per
// registered project, in registry (name) order.
type DoctorAllReport struct {
	Schema  int            `json:"schema"`
	Error   string         `json:"error,omitempty"` // why no project could be checked (phantom missing)
	Reports []DoctorReport `json:"reports"`
}

// doctorAllRun checks every registered project. Each one is loaded from,
// and its phantom calls (the vault listing and the probe under phantom
// exec) run in, its own directory, so it gets its own .phantom.toml,
// .env.local and routes. A project that cannot be checked is a failed
// report with an error, and the others still run.
func doctorAllRun(ctx context.Context, f *Factory, asJSON, strict bool) error {
	all := DoctorAllReport{Schema: DoctorSchema, Reports: []DoctorReport{}}
	// With --json, stdout stays a JSON document when nothing can be checked.
	fail := func(err error) error {
		if asJSON {
			all.Error = err.Error()
			if werr := writeJSON(f, all); werr != nil {
				return werr
			}
		}
		return err
	}
	base, err := f.phantom(ctx)
	if err != nil {
		return fail(err)
	}
	ps, err := f.registeredProjects()
	if err != nil {
		return fail(err)
	}
	failed := 0
	for _, p := range ps {
		if ctx.Err() != nil {
			return fail(context.Cause(ctx)) // Ctrl-C: the projects not checked yet are not reported
		}
		rep := DoctorReport{Schema: DoctorSchema, Name: p.Name, Project: p.ProjectID, Path: p.Path, Slots: []DoctorSlot{}}
		c, err := config.Load(p.Path, f.known)
		if err == nil {
			pc := *base
			pc.Dir = c.Dir
			var r DoctorReport
			if r, err = doctorCheck(ctx, &pc, c, strict); err == nil {
				r.Name = p.Name
				rep = r
			}
		}
		if err != nil {
			rep.OK, rep.Error = false, err.Error()
		}
		if !rep.OK {
			failed++
		}
		all.Reports = append(all.Reports, rep)
	}
	if ctx.Err() != nil {
		return fail(context.Cause(ctx))
	}
	if asJSON {
		if err := writeJSON(f, all); err != nil {
			return err
		}
	} else {
		printDoctorAll(f, &all)
	}
	switch {
	case len(all.Reports) == 0:
		if !asJSON {
			f.IO.Infof("No projects registered yet. `stack init` registers the project it creates; `stack projects register` adds an existing one.")
		}
	case failed > 0:
		if !asJSON {
			f.IO.Warnf("%d of %d project(s) failed", failed, len(all.Reports))
		}
		return exitcode.Silent{Code: exitcode.Failure}
	default:
		if !asJSON {
			f.IO.Successf("%d project(s) checked, all ok", len(all.Reports))
		}
	}
	return nil
}

func printDoctorAll(f *Factory, all *DoctorAllReport) {
	t := f.IO.Theme()
	for i, r := range all.Reports {
		if i > 0 {
			fmt.Fprintln(f.IO.Out)
		}
		state := t.OK("ok")
		if !r.OK {
			state = t.Fail("FAILED")
		}
		fmt.Fprintf(f.IO.Out, "%s  %s  %s\n", r.Name, r.Path, state)
		if r.Error != "" {
			fmt.Fprintf(f.IO.Out, "  error: %s\n", r.Error)
		}
		if r.Error == "" && len(r.Slots) == 0 {
			fmt.Fprintln(f.IO.Out, "  no secret slots declared")
		}
		for _, d := range r.Slots {
			fmt.Fprintln(f.IO.Out, "  "+doctorLine(d))
		}
	}
}
