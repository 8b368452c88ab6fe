package main

import (
	"context"
	"errors"

	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/lake"
)

// Exit codes, the same for every command. They are listed in --help.
const (
	exitOK          = 0  // success
	exitFailure     = 1  // failure; the error says what failed
	exitUsage       = 2  // usage or configuration error: bad flag, schema, URL
	exitDrift       = 3  // --fail-on-drift was given and drift was detected
	exitQuality     = 4  // a data-quality threshold was breached
	exitTempFailure = 75 // storage or source unreachable after retries; retry later
)

const exitCodesHelp = `Exit codes:
  0   success
  1   failure (the error says what failed and what to do)
  2   usage or configuration error: bad flag, bad schema file, bad URL, missing source
  3   --fail-on-drift was given and drift was detected
  4   a data-quality threshold was breached (e.g. --max-quarantine-ratio)
  75  temporary failure: storage or source unreachable after retries, or the partition is
      locked or was changed by another run; retry later
`

// usageError marks an error as a usage or configuration problem (exit 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usage wraps err as a usage error.
func usage(err error) error {
	if err == nil {
		return nil
	}
	return &usageError{err: err}
}

// qualityError marks a breached data-quality threshold (exit 4).
type qualityError struct{ err error }

func (e *qualityError) Error() string { return e.err.Error() }
func (e *qualityError) Unwrap() error { return e.err }

// driftError marks detected drift under --fail-on-drift (exit 3).
type driftError struct{ err error }

func (e *driftError) Error() string { return e.err.Error() }
func (e *driftError) Unwrap() error { return e.err }

// exitCode decides the process exit code for an error returned by a command.
// It is the only place exit codes are chosen.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ue *usageError
	var qe *qualityError
	var de *driftError
	var ce interface{ ConfigError() bool }
	var qi interface{ QualityError() bool }
	var ec interface{ ExitCode() int }
	switch {
	case errors.As(err, &ec):
		return ec.ExitCode()
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ce) && ce.ConfigError():
		return exitUsage
	case errors.As(err, &qe):
		return exitQuality
	case errors.As(err, &qi) && qi.QualityError():
		return exitQuality
	case errors.As(err, &de):
		return exitDrift
	case errors.Is(err, storage.ErrInvalidKey):
		return exitUsage
	case errors.Is(err, storage.ErrUnavailable):
		return exitTempFailure
	case errors.Is(err, lake.ErrLeaseHeld), errors.Is(err, lake.ErrLeaseLost), errors.Is(err, lake.ErrConcurrentChange):
		// another run holds or changed the partition: retrying later works
		return exitTempFailure
	case errors.Is(err, context.Canceled):
		return exitFailure
	}
	return exitFailure
}
