package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// readBinary returns the bytes of the file named name (phantom, stack.exe…)
// at any depth in a .tar.gz or .zip archive.
func readBinary(archive string, data []byte, name string) ([]byte, error) {
	switch {
	case strings.HasSuffix(archive, ".tar.gz"):
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", archive, err)
		}
		tr := tar.NewReader(zr)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", archive, err)
			}
			if h.Typeflag == tar.TypeReg && path.Base(h.Name) == name {
				return io.ReadAll(tr)
			}
		}
	case strings.HasSuffix(archive, ".zip"):
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", archive, err)
		}
		for _, f := range zr.File {
			if path.Base(f.Name) == name {
				rc, err := f.Open()
				if err != nil {
					return nil, err
				}
				defer rc.Close()
				return io.ReadAll(rc)
			}
		}
	default:
		return nil, fmt.Errorf("%s: not a .tar.gz or .zip archive", archive)
	}
	return nil, fmt.Errorf("%s: no %s inside", archive, name)
}
