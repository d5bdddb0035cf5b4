package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/stellaops/stellad/internal/apitype"
	"github.com/stellaops/stellad/internal/client"
)

func licenseCommand() *cli.Command {
	return &cli.Command{
		Name:    "license",
		Aliases: []string{"licence"},
		Usage:   "manage the offline Proof-of-Entitlement licences (admin)",
		Subcommands: []*cli.Command{
			{
				Name: "import", Usage: "import a licence (a DSSE envelope signed by the vendor's licensing key)", ArgsUsage: "FILE",
				Flags:  []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: licenseImport,
			},
			{
				Name: "status", Usage: "list the licences, their state and the bypass in force", ArgsUsage: " ",
				Flags:  []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: licenseStatus,
			},
			{
				Name: "bypass", Usage: "open a time-boxed, audited emergency bypass of the entitlement check", ArgsUsage: " ",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "reason", Usage: "why (recorded in the audit trail)", Required: true},
					&cli.DurationFlag{Name: "for", Usage: "how long (at most 24h)", Required: true},
					&cli.BoolFlag{Name: "json", Usage: "print JSON"},
				},
				Action: licenseBypass,
			},
		},
	}
}

func licenseImport(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageErrorf("license import: want one licence FILE")
	}
	doc, err := os.ReadFile(c.Args().First())
	if err != nil {
		return badInput(fmt.Errorf("license import: %w", err))
	}
	cl, err := adminClient(c)
	if err != nil {
		return err
	}
	l, err := cl.ImportLicence(c.Context, doc)
	if err != nil {
		return fmt.Errorf("license import: %w", err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, l)
	}
	fmt.Fprintf(c.App.Writer, "imported licence %s (plan %s, tenants %s), valid %s to %s: %s\n",
		l.LicenceID, l.Plan, strings.Join(l.Tenants, ","), l.NotBefore, l.NotAfter, l.State)
	return nil
}

func licenseStatus(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	cl, err := adminClient(c)
	if err != nil {
		return err
	}
	st, err := cl.LicenceStatus(c.Context)
	if err != nil {
		return fmt.Errorf("license status: %w", err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, st)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LICENCE\tPLAN\tTENANTS\tNOT AFTER\tSTATE")
	for _, l := range st.Licences {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.LicenceID, l.Plan, strings.Join(l.Tenants, ","), l.NotAfter, l.State)
	}
	tw.Flush()
	fmt.Fprintf(c.App.Writer, "grace after expiry: %s\n", st.Grace)
	if b := st.Bypass; b != nil {
		fmt.Fprintf(c.App.Writer, "BYPASS in force until %s (by %s: %s)\n", b.End, b.Actor, b.Reason)
	}
	return nil
}

func licenseBypass(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	cl, err := adminClient(c)
	if err != nil {
		return err
	}
	b, err := cl.Bypass(c.Context, apitype.BypassRequest{Reason: c.String("reason"), For: c.Duration("for").String()})
	if err != nil {
		return fmt.Errorf("license bypass: %w", err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, b)
	}
	fmt.Fprintf(c.App.Writer, "bypass %d in force from %s until %s\n", b.ID, b.Start, b.End)
	return nil
}

func auditCommand() *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "read and verify the hash-chained audit trail",
		Subcommands: []*cli.Command{
			{
				Name: "list", Usage: "list audit rows (your tenant's; --all-tenants or --tenant for admins)", ArgsUsage: " ",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "tenant", Usage: "only this tenant's rows (admin)"},
					&cli.BoolFlag{Name: "all-tenants", Usage: "every tenant's rows (admin)"},
					&cli.StringFlag{Name: "decision", Usage: "allow or deny"},
					&cli.Uint64Flag{Name: "after", Usage: "rows after this sequence number"},
					&cli.IntFlag{Name: "limit", Value: 100, Usage: "rows per page"},
					&cli.BoolFlag{Name: "json", Usage: "print JSON"},
				},
				Action: auditList,
			},
			{
				Name: "verify", Usage: "recompute the chain and its anchors in the log (admin); exit 1 when broken", ArgsUsage: " ",
				Flags:  []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: auditVerify,
			},
			{
				Name: "export", Usage: "write the audit rows as JSON Lines (admin)", ArgsUsage: " ",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "tenant", Usage: "only this tenant's rows"},
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "`FILE` (default stdout)"},
				},
				Action: auditExport,
			},
		},
	}
}

func auditList(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	q := client.AuditQuery{Tenant: c.String("tenant"), Limit: c.Int("limit"), Decision: c.String("decision")}
	q.Admin = q.Tenant != "" || c.Bool("all-tenants")
	if c.IsSet("after") {
		a := c.Uint64("after")
		q.After = &a
	}
	var (
		cl  *client.Client
		err error
	)
	if q.Admin {
		cl, err = adminClient(c)
	} else {
		cl, err = daemonClient(c)
	}
	if err != nil {
		return err
	}
	l, err := cl.Audit(c.Context, q)
	if err != nil {
		return fmt.Errorf("audit list: %w", err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, l)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tTENANT\tPRINCIPAL\tACTION\tDECISION\tREASON\tLOG INDEX")
	for _, r := range l.Rows {
		idx := "-"
		if r.LogIndex != nil {
			idx = strconv.FormatUint(*r.LogIndex, 10)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Seq, r.Time, r.Tenant, r.Principal, r.Action, r.Decision, r.Reason, idx)
	}
	tw.Flush()
	if l.Next != nil {
		fmt.Fprintf(c.App.Writer, "more: --after %d\n", *l.Next)
	}
	return nil
}

func auditVerify(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	cl, err := adminClient(c)
	if err != nil {
		return err
	}
	v, err := cl.VerifyAudit(c.Context)
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	if c.Bool("json") {
		if err := printJSON(c.App.Writer, v); err != nil {
			return err
		}
	} else if v.OK {
		fmt.Fprintf(c.App.Writer, "audit chain OK: %d rows, head %d %s, %d anchors in the log match\n", v.Rows, v.HeadSeq, v.HeadHash, v.Anchors)
	}
	if !v.OK {
		bad := "?"
		if v.FirstBad != nil {
			bad = strconv.FormatUint(*v.FirstBad, 10)
		}
		return fmt.Errorf("%w: audit chain broken at row %s: %s", errVerifyFailed, bad, v.Problem)
	}
	return nil
}

func auditExport(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	cl, err := adminClient(c)
	if err != nil {
		return err
	}
	b, err := cl.ExportAudit(c.Context, c.String("tenant"))
	if err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	if out := c.String("output"); out != "" {
		return writeFileAtomic("audit export", out, b, 0o644)
	}
	_, err = c.App.Writer.Write(b)
	return err
}

func scannerCommand() *cli.Command {
	return &cli.Command{
		Name:  "scanner",
		Usage: "trust scanner releases (admin)",
		Subcommands: []*cli.Command{
			{
				Name: "import", Usage: "import signed scanner releases from an OCI image layout directory on the appliance", ArgsUsage: "DIR",
				Flags:  []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: scannerImport,
			},
			{
				Name: "approvals", Usage: "list signing requests queued for an untrusted scanner digest", ArgsUsage: " ",
				Flags:  []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: scannerApprovals,
			},
			{
				Name: "approve", Usage: "approve a queued scanner digest", ArgsUsage: "ID",
				Flags:  []cli.Flag{&cli.StringFlag{Name: "reason", Required: true, Usage: "why (audited)"}},
				Action: func(c *cli.Context) error { return scannerDecide(c, true) },
			},
			{
				Name: "deny", Usage: "deny a queued scanner digest", ArgsUsage: "ID",
				Flags:  []cli.Flag{&cli.StringFlag{Name: "reason", Required: true, Usage: "why (audited)"}},
				Action: func(c *cli.Context) error { return scannerDecide(c, false) },
			},
		},
	}
}

func scannerImport(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageErrorf("scanner import: want one DIR")
	}
	cl, err := adminClient(c)
	if err != nil {
		return err
	}
	res, err := cl.ImportScannerReleases(c.Context, c.Args().First())
	if err != nil {
		return fmt.Errorf("scanner import: %w", err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, res)
	}
	fmt.Fprintf(c.App.Writer, "trusted %d scanner release(s):\n", len(res.Digests))
	for _, d := range res.Digests {
		fmt.Fprintf(c.App.Writer, "  %s\n", d)
	}
	return nil
}

func scannerApprovals(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	cl, err := adminClient(c)
	if err != nil {
		return err
	}
	l, err := cl.ScannerApprovals(c.Context)
	if err != nil {
		return fmt.Errorf("scanner approvals: %w", err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, l)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTENANT\tDIGEST\tREQUESTED\tSTATE")
	for _, a := range l.Approvals {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", a.ID, a.Tenant, a.Digest, a.RequestedAt, a.State)
	}
	return tw.Flush()
}

func scannerDecide(c *cli.Context, approve bool) error {
	if c.NArg() != 1 {
		return usageErrorf("%s: want one approval ID", cmdName(c))
	}
	id, err := strconv.ParseInt(c.Args().First(), 10, 64)
	if err != nil {
		return usageErrorf("%s: approval ID %q is not a number", cmdName(c), c.Args().First())
	}
	cl, err := adminClient(c)
	if err != nil {
		return err
	}
	a, err := cl.DecideScannerApproval(c.Context, id, apitype.ApprovalDecision{Approve: approve, Reason: c.String("reason")})
	if err != nil {
		return fmt.Errorf("%s: %w", cmdName(c), err)
	}
	fmt.Fprintf(c.App.Writer, "approval %d (%s for tenant %s): %s\n", a.ID, a.Digest, a.Tenant, a.State)
	return nil
}

func quotaCommand() *cli.Command {
	return &cli.Command{
		Name: "quota", Usage: "show your tenant's quota and today's use", ArgsUsage: " ",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			cl, err := daemonClient(c)
			if err != nil {
				return err
			}
			u, err := cl.Quota(c.Context)
			if err != nil {
				return fmt.Errorf("quota: %w", err)
			}
			if c.Bool("json") {
				return printJSON(c.App.Writer, u)
			}
			fmt.Fprintf(c.App.Writer, "tenant %s, plan %s: %d signatures on %s\nquotas: %s\n", u.Tenant, u.Plan, u.Used, u.Day, u.Quotas)
			return nil
		},
	}
}
