// Package vault stores a project's secrets in one encrypted file,
// $PHANTOM_HOME/vaults/<project_id>.vault (directory 0700, file 0600), with
// writes serialised by the lock file <project_id>.lock beside it
// (docs/architecture.md §3).
//
// # Envelope
//
// A random 256-bit data key encrypts the payload with ChaCha20-Poly1305 and a
// fresh random nonce on every write. The data key is held by one key source:
//
//   - Keychain: the OS keychain item service "phantom", account
//     "vault-key:<project_id>", value base64(data key). One item per project;
//     the item name reveals no secret names.
//   - Passphrase: KEK = Argon2id(passphrase, salt, t, m, p, 32 bytes) wraps the
//     data key with ChaCha20-Poly1305. Defaults t=3, m=64 MiB, p=1; the
//     parameters are recorded in the header and read back on open.
//   - Hardened: wrapped exactly like Passphrase, but the passphrase must be
//     typed at the moment the vault is opened: PHANTOM_VAULT_PASSPHRASE(_FILE)
//     is refused (ErrHardened), since a variable or a file can be set by any
//     program the user runs, an AI agent included. A hardened vault has no
//     keychain item. Commands that need no person use the agent `phantom
//     unlock` starts, which holds the data key (OpenWithKey).
//
// A write re-uses the unlocked data key and the existing key header, so a
// command costs at most one KDF. Rekey generates a new data key.
//
// # File format, version 1 (integers big-endian)
//
//	off  len  field
//	0    8    magic "PHMVAULT"
//	8    2    format version (1)
//	10   1    key source (1 = keychain, 2 = passphrase, 3 = hardened)
//	11   16   project id (the 128-bit id from .phantom.toml, raw bytes)
//	keychain (key source 1):
//	27   16   key check = HMAC-SHA256(data key, "phantom vault key check v1")[:16]
//	43   8    header checksum = SHA-256(bytes 0..42)[:8]
//	51   12   payload nonce
//	63   …    payload ciphertext + 16-byte tag
//	passphrase and hardened (key sources 2 and 3):
//	27   4    Argon2id time (iterations)
//	31   4    Argon2id memory, KiB
//	35   1    Argon2id threads
//	36   16   salt
//	52   12   wrap nonce
//	64   48   ChaCha20-Poly1305(KEK, nonce, data key, aad = bytes 0..51)
//	112  8    header checksum = SHA-256(bytes 0..111)[:8]
//	120  12   payload nonce
//	132  …    payload ciphertext + 16-byte tag
//
// The payload is sealed with the data key and associated data = every byte
// before the ciphertext (header, checksum and payload nonce), so changing any
// header byte fails authentication. The wrapped key's associated data
// includes the key-source byte, so turning a hardened vault into a
// passphrase one (or back) by editing that byte makes the key unwrap with no
// passphrase at all: only Rekey, with the data key in hand, changes it. The checksum is not a security measure
// (anyone can recompute it); it lets phantom tell a damaged file
// (ErrCorrupt) from a wrong passphrase (ErrWrongPassphrase) before running the
// KDF. The key check lets a keychain vault tell "the keychain holds another
// key" (ErrKeyMismatch) from a damaged file, and changes whenever the data key
// does, so a concurrent re-key is always detected; it reveals nothing about the
// key. Decoding is strict: bad magic, short or empty files, unknown key
// sources, a bad checksum, and Argon2 parameters outside t 1..100, p 1..64,
// m 8·p KiB..4 GiB are rejected before any KDF runs.
//
// The plaintext payload is JSON:
//
//	{"version":1,"secrets":{"NAME":{"value":"<base64>","token":"phm_…",
//	  "created_at":"…","updated_at":"…","origins":{"<env file>":"<raw text>"}}}}
//
// decoded strictly (unknown fields, trailing data, bad tokens, duplicate
// tokens are errors): a new field needs a new payload version, so an older
// phantom refuses (ErrNewerVersion) instead of rewriting the vault without it.
//
// # Key-source selection
//
// Creating: PHANTOM_VAULT_PASSPHRASE or PHANTOM_VAULT_PASSPHRASE_FILE
// (non-empty; see PassphraseFromEnv) → passphrase; otherwise the
// keychain if reachable; otherwise a passphrase typed on the terminal (asked
// twice); otherwise ErrNoKeySource. On Linux and the BSDs the keychain is the
// Secret Service on the session D-Bus, and go-keyring is never called while
// DBUS_SESSION_BUS_ADDRESS is empty: godbus would auto-launch a bus through
// dbus-launch and leave daemons running. Every keychain call is bounded by
// Options.KeyringTimeout (3 s); after one timeout the keychain counts as
// unavailable for that call. PHANTOM_REQUIRE_KEYCHAIN (fail-closed: any value
// but "", 0, false, no, off) refuses every non-keychain source.
//
// Opening: the header decides. A keychain vault needs the keychain; a
// passphrase vault uses PHANTOM_VAULT_PASSPHRASE(_FILE), else the terminal prompt
// (three tries), else ErrNoKeySource. A hardened vault refuses
// PHANTOM_VAULT_PASSPHRASE(_FILE) (ErrHardened) and uses the terminal prompt
// only. PHANTOM_REQUIRE_KEYCHAIN refuses passphrase and hardened vaults.
// OpenWithKey opens any of the three with a data key the caller already holds
// (the agent): no KDF, no keychain, no prompt; a key that does not open the
// file is ErrWrongKey. Proof and CheckProof let the unlocking process check
// that an agent holds the key without either sending it.
//
// A keychain item that already holds a valid key is reused, never
// overwritten, when a vault is created or re-keyed into the keychain: another
// vault of the same project (under another PHANTOM_HOME) or an interrupted
// earlier attempt may depend on it.
//
// # Crash safety
//
// Every write happens under the lock: re-read and decrypt the current file,
// apply the change, run the caller's beforeCommit hook (the audit append),
// store the audit mark (Options.Mark: the position of that append), write a
// temporary file ".<id>.vault.tmp-*", fsync it, rename it over the vault and
// fsync the directory. A crash at any instant leaves the old or the new
// vault; leftover temporary files are ignored by readers and removed by the
// next writer. A crash (or a failed temp write) after the hook leaves an
// audit event for a write that did not happen; never a write without its
// event. Readers take no lock.
//
// # Memory hygiene (best effort)
//
// The data key, passphrase copies, derived KEKs and the decrypted JSON buffer
// are held in []byte and overwritten with zeros when this package is done with
// them, and Vault.Close wipes the key and the snapshot's values. That is all
// Go allows a library to promise: the garbage collector may have copied
// buffers before they were cleared, encoding/json and encoding/base64 make
// internal copies, strings (the environment variable, secret names, the
// Origins texts, the keychain item as go-keyring returns it) cannot be
// cleared, and nothing here stops the OS from swapping memory to disk. A
// process that can read phantom's memory can read the secrets.
package vault
