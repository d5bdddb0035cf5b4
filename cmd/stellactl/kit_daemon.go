package main

import (
	"fmt"
	"os"
	"sort"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
)

// The daemon side of kits: export this appliance's log, import a kit, status.
// All three are admin commands (the admin socket, or a token with stellad.admin).

func kitDaemonCommands() []*cli.Command {
	return []*cli.Command{
		{
			Name: "export", Usage: "export this appliance's checkpoint, log tiles, bundles and audit chain head as a kit", ArgsUsage: " ",
			Flags: []cli.Flag{
				&cli.Uint64Flag{Name: "since", Usage: "a tree size the receiving side already holds (0: everything)"},
				&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "kit `FILE` to write", Required: true},
			},
			Action: kitExport,
		},
		{
			Name: "import", Usage: "import a kit into the daemon: everything is verified before anything changes", ArgsUsage: "KIT",
			Flags:  []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: kitImport,
		},
		{
			Name: "status", Usage: "print the imported trust, the kits accepted per source and the mirrored logs", ArgsUsage: " ",
			Flags:  []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: kitStatus,
		},
	}
}

func kitExport(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	cl, err := adminClient(c)
	if err != nil {
		return err
	}
	b, err := cl.ExportKit(c.Context, c.Uint64("since"))
	if err != nil {
		return fmt.Errorf("kit export: %w", err)
	}
	if err := writeFileAtomic("kit", c.String("output"), b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "kit: %s (%d bytes)\n", c.String("output"), len(b))
	return nil
}

func kitImport(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageErrorf("kit import: want one KIT")
	}
	b, err := os.ReadFile(c.Args().First())
	if err != nil {
		return badInput(fmt.Errorf("kit import: %w", err))
	}
	cl, err := adminClient(c)
	if err != nil {
		return err
	}
	res, err := cl.ImportKit(c.Context, b)
	if err != nil {
		return fmt.Errorf("kit import %s: %w", c.Args().First(), err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, res)
	}
	fmt.Fprintf(c.App.Writer, "imported kit %s #%d (%s), manifest %s\n", res.Source, res.Sequence, res.Kind, res.ManifestSHA256)
	origins := make([]string, 0, len(res.Checkpoints))
	for o := range res.Checkpoints {
		origins = append(origins, o)
	}
	sort.Strings(origins)
	for _, o := range origins {
		fmt.Fprintf(c.App.Writer, "  checkpoint %s: size %d\n", o, res.Checkpoints[o])
	}
	fmt.Fprintf(c.App.Writer, "  installed: %v; tiles %d, bundles %d, licences %d, audit head %v\n",
		res.Installed, res.Tiles, res.Bundles, len(res.Licences), res.AuditHead)
	return nil
}

func kitStatus(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	cl, err := adminClient(c)
	if err != nil {
		return err
	}
	st, err := cl.KitStatus(c.Context)
	if err != nil {
		return fmt.Errorf("kit status: %w", err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, st)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "kit keys: %d (threshold %d)\n", len(st.KitKeys), st.KitThreshold)
	if st.TrustedRootSHA256 != "" {
		fmt.Fprintf(w, "trusted root: sha256:%s (newest validity start %s)\n", st.TrustedRootSHA256, st.TrustedRootStart)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tSEQUENCE\tKIND\tIMPORTED\tBY")
	for _, s := range st.Sources {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", s.Source, s.Sequence, s.Kind, s.ImportedAt, s.Actor)
	}
	fmt.Fprintln(tw, "ORIGIN\tTREE SIZE\tTILES\tBUNDLES\tWITNESSES")
	for _, o := range st.Origins {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%v\n", o.Origin, o.TreeSize, o.TilesSize, o.Bundles, o.Witnesses)
	}
	tw.Flush()
	for _, v := range st.SplitViews {
		fmt.Fprintf(w, "SPLIT VIEW %s: accepted size %d root %x, offered size %d root %x (kit %s #%d, %s)\n",
			v.Origin, v.AcceptedSize, v.AcceptedRoot, v.OfferedSize, v.OfferedRoot, v.KitSource, v.KitSequence, v.DetectedAt)
	}
	return nil
}
