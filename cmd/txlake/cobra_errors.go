package main

import "strings"

// isCobraUsageError recognises the argument errors cobra itself returns
// (unknown command, wrong number of args), which are usage errors (exit 2).
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "unknown flag", "unknown shorthand", "flag needs an argument", "invalid argument", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
