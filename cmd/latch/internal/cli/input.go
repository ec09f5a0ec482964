package cli

import (
	"fmt"
	"io"
	"os"
)

// maxInput bounds what a command reads from a file or standard input that
// holds a key, a keyring or a cookie: far above any real one, and small
// enough that a wrong path (/dev/zero, a log file) fails at once instead of
// filling memory or being checked in part.
const maxInput = 1 << 20

// readInput reads all of r, up to maxInput bytes; what names the input in
// the error.
func readInput(r io.Reader, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if len(b) > maxInput {
		return nil, fmt.Errorf("%s is larger than %d KiB", what, maxInput>>10)
	}
	return b, nil
}

// readInputFile is readInput on the file at path.
func readInputFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readInput(f, path)
}
