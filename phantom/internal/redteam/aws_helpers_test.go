//go:build linux

package redteam

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"phantomstack.dev/phantom/internal/config"
	"phantomstack.dev/phantom/internal/vault"
)

// The AWS fake (IAM, STS, S3, SigV4-checked, with GetSessionToken and
// session tokens) lives in the providers module, which phantom may not
// import (stack/deps_test.go): the tests run it as its own process,
// fakecloud, built once from this repository.
var (
	fakecloudOnce sync.Once
	fakecloudBin  string
	fakecloudErr  error
)

// AWSFake is a running fakecloud's AWS endpoint and its bootstrap key (the
// user's own long-lived key, as far as the test is concerned).
type AWSFake struct {
	URL, Region, KeyID, Secret string
	cmd                        *exec.Cmd
	done                       chan struct{}
}

// StartAWSFake builds (once) and starts fakecloud on loopback; Stop or the
// test's end stops it.
func StartAWSFake(t *testing.T) *AWSFake {
	t.Helper()
	fakecloudOnce.Do(func() {
		// Next to the phantom binary: TestMain removes that directory.
		fakecloudBin = filepath.Join(filepath.Dir(phantomBin), "fakecloud")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", fakecloudBin, "phantomstack.dev/providers/fake/cmd/fakecloud").CombinedOutput()
		if err != nil {
			fakecloudErr = fmt.Errorf("building fakecloud: %v\n%s", err, out)
		}
	})
	if fakecloudErr != nil {
		t.Fatal(fakecloudErr)
	}
	cmd := exec.Command(fakecloudBin, "-format", "json")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = nil // its request log is noise here
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f := &AWSFake{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(f.done) }()
	t.Cleanup(f.Stop)
	var out struct {
		AWS struct {
			EndpointURL     string `json:"endpoint_url"`
			Region          string `json:"region"`
			AccessKeyID     string `json:"access_key_id"`
			SecretAccessKey string `json:"secret_access_key"`
		} `json:"aws"`
	}
	dec := make(chan error, 1)
	go func() { dec <- json.NewDecoder(stdout).Decode(&out) }()
	select {
	case err := <-dec:
		if err != nil {
			t.Fatalf("reading fakecloud's endpoints: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("fakecloud did not print its endpoints within 30s")
	}
	f.URL, f.Region, f.KeyID, f.Secret = out.AWS.EndpointURL, out.AWS.Region, out.AWS.AccessKeyID, out.AWS.SecretAccessKey
	return f
}

// Stop ends the fakecloud process this test started (STS goes down).
func (f *AWSFake) Stop() {
	select {
	case <-f.done:
		return
	default:
	}
	f.cmd.Process.Signal(os.Interrupt)
	select {
	case <-f.done:
	case <-time.After(10 * time.Second):
		f.cmd.Process.Kill()
		<-f.done
	}
}

// ApproveAWS is the human approving the project's current [aws] settings
// (what `phantom trust` stores after they typed "trust" on their terminal).
func (a *Agent) ApproveAWS() {
	a.t.Helper()
	cfg, err := config.Load(filepath.Join(a.Dir, config.FileName))
	if err != nil {
		a.t.Fatal(err)
	}
	v, err := vault.Open(vault.Options{Home: a.Home, ProjectID: cfg.ProjectID(), Env: func(k string) string {
		if k == "PHANTOM_VAULT_PASSPHRASE" {
			return Passphrase
		}
		return ""
	}})
	if err != nil {
		a.t.Fatal(err)
	}
	defer v.Close()
	s := cfg.AWS()
	err = v.Update(func(pl *vault.Payload) error {
		if pl.Approvals == nil {
			pl.Approvals = map[string]*vault.Approval{}
		}
		pl.Approvals[config.AWSApprovalKey] = &vault.Approval{Hash: s.ApprovalHash(), Data: s.ApprovalData(), ApprovedAt: time.Now().UTC()}
		return nil
	}, nil)
	if err != nil {
		a.t.Fatal(err)
	}
}
