//go:build !linux

package listen

// setOptions: the options are Linux's; elsewhere the kernel's defaults.
func setOptions(uintptr, Options) error { return nil }
