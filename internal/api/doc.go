// Package api is stellad's HTTP surface: routing, request decoding with size
// limits, and the one function that maps errors to statuses and stable codes.
// Handlers translate; the use case lives in internal/attest, reached through
// the small interfaces declared here.
//
// Every answer carries an X-Request-Id header (the caller's, when it sent a
// well-formed one); error bodies are apitype.Error with the same id. 5xx
// answers are logged at error level, 4xx at debug.
package api
