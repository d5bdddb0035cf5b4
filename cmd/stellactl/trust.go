package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/stellaops/stellad/internal/client"
)

func trustRootCommand() *cli.Command {
	return &cli.Command{
		Name:  "trust-root",
		Usage: "export the trusted root that offline verifiers need",
		Subcommands: []*cli.Command{{
			Name:      "export",
			Usage:     "write stellad's trusted_root.json verbatim",
			ArgsUsage: " ",
			Flags:     []cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "`FILE` to write"}},
			Action:    trustRootExport,
		}},
	}
}

func signingConfigCommand() *cli.Command {
	return &cli.Command{
		Name:  "signing-config",
		Usage: "export the Sigstore signing config that points cosign at this appliance",
		Subcommands: []*cli.Command{{
			Name:      "export",
			Usage:     "write stellad's signing_config.json (v0.2: its CA, log and TSA) verbatim",
			ArgsUsage: " ",
			Flags:     []cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "`FILE` to write"}},
			Action:    signingConfigExport,
		}},
	}
}

func signingConfigExport(c *cli.Context) error {
	return exportDocument(c, "signing config", (*client.Client).SigningConfig)
}

func trustRootExport(c *cli.Context) error {
	return exportDocument(c, "trusted root", (*client.Client).TrustedRoot)
}

func exportDocument(c *cli.Context, what string, get func(*client.Client, context.Context) ([]byte, error)) error {
	if err := noArgs(c); err != nil {
		return err
	}
	if err := requireFlags(c, "output"); err != nil {
		return err
	}
	cl, err := daemonClient(c)
	if err != nil {
		return err
	}
	doc, err := get(cl, c.Context)
	if err != nil {
		return fmt.Errorf("fetching the %s: %w", what, err)
	}
	if err := writeFileAtomic("--output", c.String("output"), doc, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "%s: %s (%d bytes)\n", what, c.String("output"), len(doc))
	return nil
}
