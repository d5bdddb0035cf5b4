// Command stellad is the signing and attestation appliance daemon: it signs
// in-toto statements as DSSE envelopes with keys in an HSM (or development file
// keys), logs every signature in its own Tessera transparency log and answers
// with Sigstore bundles that stock cosign verifies offline.
//
// Usage:
//
//	stellad serve [--dev] [--data-dir DIR] [--listen ADDR] [--public-url URL] [--signing-key URI] [--log-key URI]
//	stellad version
//
// This file only parses flags and runs; wiring lives in serve.go.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
)

// version is set by the build (-ldflags -X main.version=...).
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args, os.Stdout, os.Stderr))
}

// Exit codes: 0 clean shutdown, 2 bad configuration or usage, 1 any other failure.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := &cli.App{
		Name:      "stellad",
		Usage:     "signing and attestation appliance for sealed networks",
		Writer:    stdout,
		ErrWriter: stderr,
		Commands: []*cli.Command{
			serveCommand(),
			sigstoreCommand(),
			{
				Name:  "version",
				Usage: "print the version",
				Action: func(c *cli.Context) error {
					_, err := fmt.Fprintln(c.App.Writer, "stellad", version)
					return err
				},
			},
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	err := app.RunContext(ctx, args)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "stellad:", err)
	var ce configError
	if errors.As(err, &ce) || isUsageError(err) {
		return 2
	}
	return 1
}

// configError marks an error in flags or configuration (exit code 2).
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }
func (e configError) Unwrap() error { return e.err }

func configErrorf(format string, a ...any) error { return configError{fmt.Errorf(format, a...)} }

func isUsageError(err error) bool {
	// urfave/cli reports unknown flags, commands and bad values as plain errors from its parser.
	msg := err.Error()
	for _, p := range []string{"flag provided but not defined", "No help topic", "invalid value", "Required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
