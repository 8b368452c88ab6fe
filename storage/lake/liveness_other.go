//go:build !unix

package lake

func pidNamespace() string { return "" }

func processGone(int) bool { return false }
