//go:build !linux

package store

import "syscall"

// syncFS flushes every file system: without syncfs(2), sync(2) is the portable
// way to make staged objects and their directories durable.
func syncFS(string) error {
	syscall.Sync()
	return nil
}
