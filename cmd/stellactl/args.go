package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed reorders a command line so that flags written after positional
// arguments ("sign sbom --subject F SBOM.json -o B") reach urfave/cli, whose
// parser (Go's flag package) stops at the first positional argument. It walks
// global flags and command names, then moves the leaf command's flags (with
// their values) before its positional arguments. "--" ends flag handling.
// Unknown flags are kept in place for urfave/cli to report.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	i := 1
	flags := app.Flags
	cmds := app.Commands
	for i < len(args) {
		tok := args[i]
		if tok == "--" {
			return append(out, args[i:]...)
		}
		if isFlagToken(tok) {
			out = append(out, tok)
			if takesValue(flags, tok) && i+1 < len(args) {
				out = append(out, args[i+1])
				i++
			}
			i++
			continue
		}
		cmd := findCommand(cmds, tok)
		if cmd == nil {
			break
		}
		out = append(out, tok)
		i++
		flags, cmds = cmd.Flags, cmd.Subcommands
		if len(cmds) == 0 {
			break // leaf command: the rest are its flags and arguments
		}
	}
	var fl, pos []string
	for ; i < len(args); i++ {
		tok := args[i]
		if tok == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if isFlagToken(tok) {
			fl = append(fl, tok)
			if takesValue(flags, tok) && i+1 < len(args) {
				fl = append(fl, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, tok)
	}
	out = append(out, fl...)
	if len(pos) > 0 {
		out = append(out, "--")
		out = append(out, pos...)
	}
	return out
}

func isFlagToken(s string) bool { return len(s) > 1 && s[0] == '-' }

// takesValue reports whether tok names a known non-boolean flag written
// without "=value".
func takesValue(flags []cli.Flag, tok string) bool {
	name := strings.TrimLeft(tok, "-")
	if strings.Contains(name, "=") {
		return false
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				return !isBool
			}
		}
	}
	return false
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
