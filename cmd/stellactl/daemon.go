package main

import (
	"net/http"

	"github.com/stellaops/stellad/internal/client"
	"github.com/urfave/cli/v2"
)

// daemonClient returns a client of the daemon named by --server, with
// --timeout as the per-request timeout.
func daemonClient(c *cli.Context) (*client.Client, error) {
	return daemonClientWith(c, &http.Client{Timeout: c.Duration("timeout")})
}

func daemonClientWith(c *cli.Context, hc *http.Client) (*client.Client, error) {
	server := c.String("server")
	cl, err := client.New(server, hc)
	if err != nil {
		return nil, usageErrorf("--server: %v", err)
	}
	return cl, nil
}

// requireFlags fails with a usage error naming the first missing flag.
func requireFlags(c *cli.Context, names ...string) error {
	for _, n := range names {
		if !c.IsSet(n) {
			return usageErrorf("%s: missing required flag --%s", cmdName(c), n)
		}
	}
	return nil
}
