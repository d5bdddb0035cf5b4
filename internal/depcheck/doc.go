// Package depcheck holds no code, only a test: deps_test.go lists every
// package of the module with `go list` and fails on an import between project
// packages that the package map (packageMap at the top of deps_test.go,
// adapted from the architecture document's table) does not allow in non-test
// files, and, in test files as well, on an import of cmd/* from outside cmd/
// and on kit/... importing internal/...; it also fails on a non-test package
// importing a test helper package (one whose name ends in "test") and on a
// project package missing from the table. Packages that do not compile are
// checked as far as `go list -e` can read their imports.
//
// Run it with: go test ./internal/depcheck
package depcheck
