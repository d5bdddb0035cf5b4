// Command stellactl is the control CLI of stellad: it signs statements through
// the daemon, fetches bundles, proofs and the trusted root, verifies bundles
// offline, runs key ceremonies through internal/keys, and load-tests a daemon.
// docs/cli.md is its reference. Exit codes: 0 success, 1 verification failed,
// 2 bad input or usage, 3 stellad unreachable, 4 internal error.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
)

// defaultServer is the daemon URL when neither --server nor STELLAD_URL is set.
const defaultServer = "http://127.0.0.1:8080"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one stellactl command line and returns its exit code. It writes
// results to stdout and one "stellactl: ..." line per error to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, interspersed(app, args))
	return report(err, stderr)
}

// newApp builds the command tree. Nothing in it is global: every run gets its
// own App.
func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:                 "stellactl",
		Usage:                "control and verify a stellad signing appliance",
		Writer:               stdout,
		ErrWriter:            stderr,
		HideHelpCommand:      true,
		EnableBashCompletion: false,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "server", Usage: "stellad base `URL`", EnvVars: []string{"STELLAD_URL"}, Value: defaultServer},
			&cli.DurationFlag{Name: "timeout", Usage: "per-request timeout", Value: 60 * time.Second},
		}, connectionFlags()...),
		Commands: []*cli.Command{
			attestCommand(),
			signCommand(),
			logCommand(),
			trustRootCommand(),
			signingConfigCommand(),
			keyCommand(),
			benchCommand(),
			licenseCommand(),
			auditCommand(),
			scannerCommand(),
			quotaCommand(),
			kitCommand(),
		},
		Action: groupAction,
		// Errors are reported and mapped to exit codes by run, never by os.Exit.
		ExitErrHandler: func(*cli.Context, error) {},
	}
	app.OnUsageError = onUsageError
	for _, c := range app.Commands {
		setUsageHandlers(c)
	}
	return app
}

func setUsageHandlers(c *cli.Command) {
	c.OnUsageError = onUsageError
	c.HideHelpCommand = true
	if len(c.Subcommands) > 0 && c.Action == nil {
		c.Action = groupAction
	}
	for _, s := range c.Subcommands {
		setUsageHandlers(s)
	}
}

// onUsageError turns flag parse errors (unknown flag, bad value) into usage errors.
func onUsageError(c *cli.Context, err error, _ bool) error {
	return usageErrorf("%s: %s (see '%s --help')", cmdName(c), strings.Replace(err.Error(), " -", " --", 1), cmdName(c))
}

// groupAction runs for a command group given no known subcommand.
func groupAction(c *cli.Context) error {
	if c.Args().Present() {
		return usageErrorf("unknown command %q for '%s' (see '%s --help')", c.Args().First(), cmdName(c), cmdName(c))
	}
	_ = cli.ShowSubcommandHelp(c)
	return usageErrorf("'%s' needs a subcommand", cmdName(c))
}

// cmdName is the command's full name as typed, "stellactl attest sign".
func cmdName(c *cli.Context) string {
	if c.Command == nil || c.Command.HelpName == "" {
		return "stellactl"
	}
	return c.Command.HelpName
}
