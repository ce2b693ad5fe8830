package vault

import (
	"fmt"
	"testing"
)

// BenchmarkOpenPassphraseDefault measures an unlock with the real Argon2id
// parameters (t=3, m=64 MiB, p=1): the cost of one phantom command.
func BenchmarkOpenPassphraseDefault(b *testing.B) {
	o := opts(b, b.TempDir(), envPass, nil)
	o.KDF = KDFParams{}
	v := mustCreate(b, o)
	for i := range 20 {
		mustUpdate(b, v, add(fmt.Sprintf("SECRET_%02d", i), "sk-0123456789abcdef0123456789abcdef"))
	}
	v.Close()
	for b.Loop() {
		w, err := Open(o)
		if err != nil {
			b.Fatal(err)
		}
		w.Close()
	}
}

// BenchmarkUpdateKeychainFake measures one locked read-modify-write with two
// fsyncs and no KDF (keychain key from the in-memory fake).
func BenchmarkUpdateKeychainFake(b *testing.B) {
	o := opts(b, b.TempDir(), envKeychain, newFake())
	v := mustCreate(b, o)
	defer v.Close()
	for i := range 20 {
		mustUpdate(b, v, add(fmt.Sprintf("SECRET_%02d", i), "sk-0123456789abcdef0123456789abcdef"))
	}
	m := add("ROTATING", "value")
	for b.Loop() {
		if err := v.Update(m, nil); err != nil {
			b.Fatal(err)
		}
	}
}
