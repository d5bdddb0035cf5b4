package main

import (
	"encoding/json"

	"github.com/stellaops/stellad/internal/apitype"
	"github.com/urfave/cli/v2"
)

// Predicate types chosen by content.
const (
	predicateCycloneDX = "https://cyclonedx.org/bom"
	predicateSPDX      = "https://spdx.dev/Document"
	predicateVuln      = "https://cosign.sigstore.dev/attestation/vuln/v1"
)

func signCommand() *cli.Command {
	subjectFlag := func() cli.Flag {
		return &cli.StringSliceFlag{Name: "subject", Usage: "subject `FILE` (repeatable)"}
	}
	outFlag := func() cli.Flag {
		return &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "bundle `FILE` to write"}
	}
	return &cli.Command{
		Name:  "sign",
		Usage: "sign an SBOM or a scan report as the predicate of a statement",
		Subcommands: []*cli.Command{
			{
				Name:      "sbom",
				Usage:     "sign a CycloneDX or SPDX JSON SBOM (predicate type from its content)",
				ArgsUsage: "SBOM.json",
				Flags:     []cli.Flag{subjectFlag(), outFlag(), scannerDigestFlag(), keylessFlag()},
				Action:    signSBOM,
			},
			{
				Name:      "report",
				Usage:     "sign a vulnerability scan report",
				ArgsUsage: "REPORT.json",
				Flags: []cli.Flag{subjectFlag(), outFlag(), scannerDigestFlag(), keylessFlag(),
					&cli.StringFlag{Name: "predicate-type", Usage: "predicate type `URI`", Value: predicateVuln}},
				Action: signReport,
			},
		},
	}
}

// keylessFlag asks the appliance to sign with an ephemeral key certified by
// its CA for the caller's identity instead of the tenant's key (the bundle
// then verifies with cosign's --certificate-identity and
// --certificate-oidc-issuer, no key).
func keylessFlag() cli.Flag {
	return &cli.BoolFlag{Name: "keyless", Usage: "sign with an ephemeral key certified by the appliance's CA for the caller's identity (token sub and iss), not the tenant's key"}
}

// sbomPredicateType picks the predicate type of an SBOM from its top-level keys.
func sbomPredicateType(path string, doc []byte) (string, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		return "", usageErrorf("SBOM %s is not a JSON object: %v", path, err)
	}
	switch {
	case top["bomFormat"] != nil:
		return predicateCycloneDX, nil
	case top["spdxVersion"] != nil:
		return predicateSPDX, nil
	default:
		return "", usageErrorf("SBOM %s is neither CycloneDX (no \"bomFormat\") nor SPDX (no \"spdxVersion\")", path)
	}
}

func signSBOM(c *cli.Context) error {
	path, err := oneArg(c, "SBOM.json")
	if err != nil {
		return err
	}
	doc, err := readJSONFile("SBOM", path)
	if err != nil {
		return err
	}
	pt, err := sbomPredicateType(path, doc)
	if err != nil {
		return err
	}
	return signPredicate(c, pt, doc)
}

func signReport(c *cli.Context) error {
	path, err := oneArg(c, "REPORT.json")
	if err != nil {
		return err
	}
	doc, err := readJSONFile("report", path)
	if err != nil {
		return err
	}
	return signPredicate(c, c.String("predicate-type"), doc)
}

func signPredicate(c *cli.Context, predicateType string, predicate []byte) error {
	if err := requireFlags(c, "subject", "output"); err != nil {
		return err
	}
	subjects, err := subjectsFromFiles(c.StringSlice("subject"))
	if err != nil {
		return err
	}
	return signAndWrite(c, apitype.SignRequest{Subjects: subjects, PredicateType: predicateType, Predicate: predicate})
}
