package vault

import "os"

// sharedFileProblem: on Windows a file's mode bits always read as shared
// (0666, or 0444 when read-only) and its ACL, which decides who may read
// it, is not checked, so a passphrase file is always refused there
// (docs/platforms.md).
func sharedFileProblem(os.FileMode, string) string {
	return "cannot be used on Windows: phantom cannot tell from the file who else may read it; unset it (Remove-Item Env:" + EnvPassphraseFile + ") and type the passphrase when asked, or move the vault key to the Credential Manager: phantom vault rekey --to keychain"
}
