// Package client is the Go client of stellad's HTTP API (routes and wire types
// in internal/apitype), used by stellactl.
//
// A Client is safe for concurrent use; it holds no state besides the base URL and
// the *http.Client it was given. Every method takes a context first. Errors:
// an answer with a non-2xx status is an *APIError carrying the stable error
// code, message and request id; a request that never got an answer (connection
// refused, DNS failure, timeout, reset) wraps ErrUnreachable and names the URL;
// a body larger than MaxResponseSize, or one that does not decode, is a plain
// error naming the route.
package client
