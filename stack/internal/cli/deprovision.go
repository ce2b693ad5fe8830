package cli

import (
	"context"
	"errors"
	"fmt"

	"phantomstack.dev/providers"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/term"
	"phantomstack.dev/stack/internal/config"
)

// deprovision deletes a service's upstream resource (stack remove). It signs
// in the way stack add does (the provider's environment variable, the
// credential chain, or the browser) and reports what to do when it cannot.
func deprovision(ctx context.Context, f *Factory, p providers.Provider, s *config.Service) error {
	info := p.Info()
	env := f.providerEnv(ctx)
	cred, err := p.Login(ctx, env, providers.LoginRequest{})
	if err != nil {
		err = fmt.Errorf("signing in to %s to delete %s: %w\nNothing was removed. To remove %s from this project but keep the upstream resource: stack remove %s --keep-remote",
			info.DisplayName, s.ResourceID, err, s.Name, s.Name)
		if errors.Is(err, providers.ErrAuthRequired) {
			return exitcode.New(exitNeedsLogin, err)
		}
		return exitcode.New(exitcode.Failure, err)
	}
	defer cred.Clear()
	res := providers.Resource{ID: s.ResourceID, Region: s.Region, Meta: s.Meta}
	err = f.IO.RunTask(ctx, term.Task{Title: fmt.Sprintf("Deleting %s %s", info.DisplayName, s.ResourceID)}, func(ctx context.Context, _ term.Progress) error {
		return p.Deprovision(ctx, env, cred, res)
	})
	if err != nil {
		return exitcode.New(exitcode.Failure, fmt.Errorf("deleting %s %s: %w\nNothing was removed locally. Fix the problem and run stack remove %s again, or keep the resource: stack remove %s --keep-remote",
			info.DisplayName, s.ResourceID, err, s.Name, s.Name))
	}
	return nil
}
