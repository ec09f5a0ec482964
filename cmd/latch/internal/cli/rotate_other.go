//go:build !unix

package cli

import "os"

// lockDir does nothing where flock is missing: writeSecretFile still
// refuses to write over a file changed since it was read.
func lockDir(string) (unlock func(), err error) { return func() {}, nil }

// keepOwner leaves the owner to the system.
func keepOwner(*os.File, os.FileInfo) error { return nil }
