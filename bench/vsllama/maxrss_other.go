//go:build !unix

package main

import (
	"errors"
	"os"
)

// maxRSS is not measured where there is no getrusage.
func maxRSS(*os.ProcessState) (int64, error) {
	return 0, errors.New("peak RSS is measured only on unix (getrusage)")
}
