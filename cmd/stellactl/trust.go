package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
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

func trustRootExport(c *cli.Context) error {
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
	tr, err := cl.TrustedRoot(c.Context)
	if err != nil {
		return fmt.Errorf("fetching the trusted root: %w", err)
	}
	if err := writeFileAtomic("--output", c.String("output"), tr, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "trusted root: %s (%d bytes)\n", c.String("output"), len(tr))
	return nil
}
