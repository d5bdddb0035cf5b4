package api

import (
	"context"
	"net"
)

type connKey struct{}

// WithUnixConn is an http.Server ConnContext for the admin socket: it keeps
// the connection so that the caller can be identified by its unix peer
// credentials.
func WithUnixConn(ctx context.Context, c net.Conn) context.Context {
	if _, ok := c.(*net.UnixConn); !ok {
		return ctx
	}
	return context.WithValue(ctx, connKey{}, c)
}

// unixConn returns the admin socket connection a request came in on, if any.
func unixConn(ctx context.Context) (net.Conn, bool) {
	c, ok := ctx.Value(connKey{}).(net.Conn)
	return c, ok
}
