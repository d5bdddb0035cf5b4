package witness

import (
	"bytes"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// MaxPolicySize is the largest policy file ParsePolicy accepts.
const MaxPolicySize = 1 << 20

// Policy is a parsed witness policy: the logs it applies to, the known
// witnesses, groups of witnesses and groups with thresholds, and the quorum
// a checkpoint's cosignatures must satisfy. Build it with ParsePolicy; the
// fields are for reading.
type Policy struct {
	Logs      []Log
	Witnesses []Witness
	Groups    []Group
	// Quorum names the witness or group that must be satisfied, or is
	// "none" (no cosignature required).
	Quorum string

	byName map[string]int // witness i as i, group j as -(j+1)
}

// Log is a "log VKEY [URL]" line.
type Log struct {
	VKey     string
	URL      string
	Verifier note.Verifier
}

// Witness is a "witness NAME VKEY [URL]" line.
type Witness struct {
	Name     string
	VKey     string
	URL      string
	Verifier note.Verifier
}

// Group is a "group NAME k|any|all MEMBER..." line; Threshold is k (1 for
// any, the member count for all).
type Group struct {
	Name      string
	Threshold int
	Members   []string
	thrWord   string // "any", "all" or "" as written
}

// PolicyError reports the line of a policy that could not be parsed.
type PolicyError struct {
	Line   int // 1-based; 0 for the file as a whole
	Reason string
}

// Error implements error.
func (e *PolicyError) Error() string {
	if e.Line == 0 {
		return "witness policy: " + e.Reason
	}
	return fmt.Sprintf("witness policy: line %d: %s", e.Line, e.Reason)
}

// Unwrap returns ErrMalformed.
func (e *PolicyError) Unwrap() error { return ErrMalformed }

var keywords = []string{"log", "witness", "group", "quorum", "none", "any", "all"}

func validName(s string) bool {
	if s == "" || slices.Contains(keywords, s) || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// ParsePolicy parses a witness policy strictly. Lines hold fields separated
// by spaces or tabs; "#" starts a comment. Recognised lines:
//
//	log VKEY [URL]                       a log the policy applies to (NewLogVerifier)
//	witness NAME VKEY [URL]              a witness (NewVerifier: Ed25519 cosignature/v1)
//	group NAME k|any|all MEMBER...       satisfied when k of its members are
//	quorum NAME|none                     exactly one, naming a witness or group
//
// Names are defined once, before use, are not keywords, and name a witness
// or a group (one namespace). A group lists each member once and its
// threshold is 1 to the member count. Two witness lines with the same key,
// two log lines with the same key, unknown keywords, extra fields, control
// characters and URLs that are not absolute http(s) URLs are refused. Errors
// are *PolicyError naming the line.
func ParsePolicy(data []byte) (*Policy, error) {
	if len(data) > MaxPolicySize {
		return nil, &PolicyError{Reason: fmt.Sprintf("%d bytes exceeds %d", len(data), MaxPolicySize)}
	}
	if !utf8.Valid(data) {
		return nil, &PolicyError{Reason: "not UTF-8"}
	}
	p := &Policy{byName: map[string]int{}}
	quorumLine := 0
	for i, line := range strings.Split(string(data), "\n") {
		ln := i + 1
		fail := func(format string, args ...any) (*Policy, error) {
			return nil, &PolicyError{Line: ln, Reason: fmt.Sprintf(format, args...)}
		}
		line = strings.TrimSuffix(line, "\r")
		if c := strings.IndexByte(line, '#'); c >= 0 {
			line = line[:c]
		}
		for _, r := range line {
			if r != '\t' && (r < 0x20 || r == 0x7f) {
				return fail("control character %U", r)
			}
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "log":
			if len(f) < 2 || len(f) > 3 {
				return fail("want: log VKEY [URL]")
			}
			v, err := NewLogVerifier(f[1])
			if err != nil {
				return fail("%v", err)
			}
			for _, l := range p.Logs {
				if l.Verifier.Name() == v.Name() && l.Verifier.KeyHash() == v.KeyHash() {
					return fail("log key %s listed twice", f[1])
				}
			}
			u, err := optionalURL(f, 2)
			if err != nil {
				return fail("%v", err)
			}
			p.Logs = append(p.Logs, Log{VKey: f[1], URL: u, Verifier: v})
		case "witness":
			if len(f) < 3 || len(f) > 4 {
				return fail("want: witness NAME VKEY [URL]")
			}
			if !validName(f[1]) {
				return fail("invalid name %q", f[1])
			}
			if _, dup := p.byName[f[1]]; dup {
				return fail("name %q defined twice", f[1])
			}
			v, err := NewVerifier(f[2])
			if err != nil {
				return fail("%v", err)
			}
			for _, w := range p.Witnesses {
				if w.Verifier.Name() == v.Name() && w.Verifier.KeyHash() == v.KeyHash() {
					return fail("witness %s has the same key as witness %s", f[1], w.Name)
				}
			}
			u, err := optionalURL(f, 3)
			if err != nil {
				return fail("%v", err)
			}
			p.byName[f[1]] = len(p.Witnesses)
			p.Witnesses = append(p.Witnesses, Witness{Name: f[1], VKey: f[2], URL: u, Verifier: v})
		case "group":
			if len(f) < 4 {
				return fail("want: group NAME k|any|all MEMBER...")
			}
			name, members := f[1], f[3:]
			if !validName(name) {
				return fail("invalid name %q", name)
			}
			if _, dup := p.byName[name]; dup {
				return fail("name %q defined twice", name)
			}
			for j, m := range members {
				if _, ok := p.byName[m]; !ok {
					return fail("member %q is not defined on an earlier line", m)
				}
				if slices.Contains(members[:j], m) {
					return fail("member %q listed twice", m)
				}
			}
			g := Group{Name: name, Members: members}
			switch f[2] {
			case "any":
				g.Threshold, g.thrWord = 1, "any"
			case "all":
				g.Threshold, g.thrWord = len(members), "all"
			default:
				k, err := strconv.Atoi(f[2])
				if err != nil || strconv.Itoa(k) != f[2] || k < 1 || k > len(members) {
					return fail("threshold %q is not any, all or 1 to %d", f[2], len(members))
				}
				g.Threshold = k
			}
			p.byName[name] = -(len(p.Groups) + 1)
			p.Groups = append(p.Groups, g)
		case "quorum":
			if len(f) != 2 {
				return fail("want: quorum NAME|none")
			}
			if quorumLine != 0 {
				return fail("second quorum line (first on line %d)", quorumLine)
			}
			if _, ok := p.byName[f[1]]; !ok && f[1] != "none" {
				return fail("quorum %q is not defined on an earlier line", f[1])
			}
			p.Quorum, quorumLine = f[1], ln
		default:
			return fail("unknown keyword %q", f[0])
		}
	}
	if quorumLine == 0 {
		return nil, &PolicyError{Reason: "no quorum line"}
	}
	return p, nil
}

func optionalURL(f []string, i int) (string, error) {
	if len(f) <= i {
		return "", nil
	}
	u, err := url.Parse(f[i])
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("%q is not an absolute http(s) URL", f[i])
	}
	return f[i], nil
}

// Marshal writes p in canonical form: log lines, witness lines, group lines
// (each after its members), then the quorum line, single-spaced, without
// comments. ParsePolicy(Marshal(p)) gives back an equal policy.
func (p *Policy) Marshal() []byte {
	var b bytes.Buffer
	for _, l := range p.Logs {
		b.WriteString("log " + l.VKey)
		if l.URL != "" {
			b.WriteString(" " + l.URL)
		}
		b.WriteByte('\n')
	}
	for _, w := range p.Witnesses {
		b.WriteString("witness " + w.Name + " " + w.VKey)
		if w.URL != "" {
			b.WriteString(" " + w.URL)
		}
		b.WriteByte('\n')
	}
	for _, g := range p.Groups {
		thr := g.thrWord
		if thr == "" {
			thr = strconv.Itoa(g.Threshold)
		}
		b.WriteString("group " + g.Name + " " + thr + " " + strings.Join(g.Members, " ") + "\n")
	}
	b.WriteString("quorum " + p.Quorum + "\n")
	return b.Bytes()
}

// WitnessVerifiers returns the verifiers of every witness in the policy.
func (p *Policy) WitnessVerifiers() []note.Verifier {
	vs := make([]note.Verifier, len(p.Witnesses))
	for i, w := range p.Witnesses {
		vs[i] = w.Verifier
	}
	return vs
}

// QuorumError says why cosignatures do not satisfy a policy.
type QuorumError struct {
	// Cosigners are the policy witness names that did cosign.
	Cosigners []string
	// Reason explains the unmet part, for example
	// `group eu needs 2 of [w1 w2 w3], has 1 (w1)`.
	Reason string
}

// Error implements error.
func (e *QuorumError) Error() string {
	return "witness: quorum not satisfied: " + e.Reason
}

// Unwrap returns ErrQuorum.
func (e *QuorumError) Unwrap() error { return ErrQuorum }

// Check reports whether the witnesses named in cosigners (policy names;
// unknown names are ignored, repeated names count once) satisfy the quorum:
// nil, or a *QuorumError explaining the first unmet group.
func (p *Policy) Check(cosigners []string) error {
	if p.Quorum == "none" {
		return nil
	}
	signed := map[string]bool{}
	for _, c := range cosigners {
		if i, ok := p.byName[c]; ok && i >= 0 {
			signed[c] = true
		}
	}
	memo := map[string]bool{}
	var why string
	var sat func(name string) bool
	sat = func(name string) bool {
		if v, ok := memo[name]; ok {
			return v
		}
		i := p.byName[name]
		var ok bool
		if i >= 0 {
			ok = signed[name]
			if !ok && why == "" {
				why = "witness " + name + " did not cosign"
			}
		} else {
			g := p.Groups[-i-1]
			var have []string
			for _, m := range g.Members {
				if sat(m) {
					have = append(have, m)
				}
			}
			ok = len(have) >= g.Threshold
			if !ok {
				why = fmt.Sprintf("group %s needs %d of [%s], has %d", g.Name, g.Threshold, strings.Join(g.Members, " "), len(have))
				if len(have) > 0 {
					why += " (" + strings.Join(have, " ") + ")"
				}
			}
		}
		memo[name] = ok
		return ok
	}
	if sat(p.Quorum) {
		return nil
	}
	names := make([]string, 0, len(signed))
	for _, w := range p.Witnesses {
		if signed[w.Name] {
			names = append(names, w.Name)
		}
	}
	return &QuorumError{Cosigners: names, Reason: why}
}

// Satisfied reports whether cosigners satisfy the quorum (see Check).
func (p *Policy) Satisfied(cosigners []string) bool { return p.Check(cosigners) == nil }

// Verify opens a cosigned checkpoint under the policy: the log signature is
// checked with logKey, or, if logKey is nil, with the policy's log whose key
// name equals the checkpoint origin; cosignatures are checked with the
// policy's witnesses and named after them; then the quorum is evaluated.
// Errors wrap ErrMalformed, ErrLogSignature, ErrCosignature or ErrQuorum
// (a *QuorumError).
func (p *Policy) Verify(signed []byte, logKey note.Verifier) (*Cosigned, error) {
	if logKey == nil {
		origin, _, _ := bytes.Cut(signed, []byte("\n"))
		for _, l := range p.Logs {
			if l.Verifier.Name() == string(origin) {
				if logKey != nil {
					return nil, fmt.Errorf("%w: policy lists two logs for origin %q; pass the log key", ErrLogSignature, origin)
				}
				logKey = l.Verifier
			}
		}
		if logKey == nil {
			return nil, fmt.Errorf("%w: policy lists no log for origin %q", ErrLogSignature, truncate(origin))
		}
	}
	c, err := Open(signed, logKey, p.WitnessVerifiers()...)
	if err != nil {
		return nil, err
	}
	var names []string
	for i, cs := range c.Cosignatures {
		for _, w := range p.Witnesses {
			if w.Verifier.Name() == cs.KeyName && w.Verifier.KeyHash() == cs.KeyHash {
				c.Cosignatures[i].Witness = w.Name
				names = append(names, w.Name)
			}
		}
	}
	if err := p.Check(names); err != nil {
		return nil, err
	}
	return c, nil
}

func truncate(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}
