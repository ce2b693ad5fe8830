package cli

import (
	"bytes"
	"testing"
	"time"

	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/dotenv"
)

// FuzzInitUnprotect runs random env files through init's plan, vault update
// and rewrite, then through unprotect's restore (the functions the commands
// use, in process: unprotect itself needs a terminal), and requires the file
// back byte for byte, or init's refusal with the file untouched. A second
// init over the protected file must find nothing new to protect.
func FuzzInitUnprotect(f *testing.F) {
	for _, s := range []string{
		"DB_PASSWORD=first\nDB_PASSWORD=second\n",
		"DB_PASSWORD=same\nX=1\nDB_PASSWORD=same\n",
		"DB_PASSWORD=\nDB_PASSWORD=s3cr3t-pa55\n",
		"DB_PASSWORD=s3cr3t-pa55\nDB_PASSWORD=\n",
		"export API_KEY='sk-abc' # c\r\nAPI_KEY=\"sk-abc\"\r\nPORT=3000\r\n",
		"TOKEN=\"multi\nline\"\nTOKEN=\"multi\\nline\"\n",
		"SECRET=a\rSECRET=a\rSECRET=b",
		"K=\"a\nK=1\n\"\n",
		"A_KEY=`x`\nB_SECRET=$y\n# c\n\nA_KEY=x\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, src []byte, allSecret bool) {
		var ov dotenv.Overrides
		if allSecret {
			ov.Secret = []string{"*"}
		}
		e := &envFile{Rel: ".env", File: dotenv.Parse(src), Exists: true}
		plan, err := planInit([]*envFile{e}, ov, nil)
		if err != nil {
			if !bytes.Equal(e.File.Bytes(), src) {
				t.Fatalf("refused init changed the file:\n%q\n%q", src, e.File.Bytes())
			}
			return
		}
		pl := &vault.Payload{Secrets: map[string]*vault.Secret{}}
		setInitTokens(plan.items, applyInit(pl, plan.items, plan.final, time.Unix(0, 0)))
		protected := e.File.Bytes()

		// Every planned line now holds its name's token.
		pe := dotenv.Parse(protected).Entries()
		for _, it := range plan.items {
			if got := pe[it.entry]; got.Key != it.key || got.Value != pl.Secrets[it.key].Token {
				t.Fatalf("entry %d (%s) reads %q after init:\n%q\n%q", it.entry, it.key, got.Value, src, protected)
			}
		}
		// Running init again protects nothing.
		again := &envFile{Rel: ".env", File: dotenv.Parse(protected), Exists: true}
		if p2, err := planInit([]*envFile{again}, ov, pl); err != nil || len(p2.items) != 0 {
			t.Fatalf("second init: %v, %d item(s):\n%q", err, len(p2.items), protected)
		}

		back := &envFile{Rel: ".env", File: dotenv.Parse(protected), Exists: true}
		if _, err := restoreTokens(back, pl, tokenIndex(pl)); err != nil {
			t.Fatal(err)
		}
		if got := back.File.Bytes(); !bytes.Equal(got, src) {
			t.Fatalf("init → unprotect changed the file:\n%q\nprotected %q\nrestored  %q", src, protected, got)
		}
	})
}
