package witness

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// policyKeys returns six test witnesses X1..X3, Y1..Y3 and a log key.
func policyKeys(t *testing.T) (map[string]*cosigner, string) {
	ws := map[string]*cosigner{}
	for i, n := range []string{"X1", "X2", "X3", "Y1", "Y2", "Y3"} {
		ws[n] = newCosigner(strings.ToLower(n)+".witness.example", byte(20+i), t0)
	}
	_, lvk := logKey(t, origin, 1)
	return ws, lvk
}

func nestedPolicy(ws map[string]*cosigner, lvk string) string {
	return fmt.Sprintf(`# nested groups, as in the Sigsum policy documentation
log %s https://log.example.com/
witness X1 %s
witness X2 %s https://x2.example/witness
witness X3 %s
group X-witnesses 2 X1 X2 X3   # two of three
	witness Y1 %s
witness Y2 %s
witness Y3 %s
group Y-witnesses any Y1 Y2 Y3
group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
`, lvk, ws["X1"].vkey(), ws["X2"].vkey(), ws["X3"].vkey(), ws["Y1"].vkey(), ws["Y2"].vkey(), ws["Y3"].vkey())
}

func TestPolicyCheck(t *testing.T) {
	ws, lvk := policyKeys(t)
	p, err := ParsePolicy([]byte(nestedPolicy(ws, lvk)))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Logs) != 1 || len(p.Witnesses) != 6 || len(p.Groups) != 3 || p.Quorum != "X-and-Y" || p.Witnesses[1].URL != "https://x2.example/witness" {
		t.Fatalf("parsed %+v", p)
	}
	tests := []struct {
		cosigners string
		want      bool
		why       string
	}{
		{"X1 X2 Y1", true, ""},
		{"X1 X3 Y3", true, ""},
		{"X1 X2 X3 Y1 Y2 Y3", true, ""},
		{"X1 Y1", false, "group X-and-Y needs 2 of [X-witnesses Y-witnesses], has 1 (Y-witnesses)"},
		{"X1 X2", false, "group X-and-Y needs 2 of [X-witnesses Y-witnesses], has 1 (X-witnesses)"},
		{"X1 X1 Y1", false, "has 1 (Y-witnesses)"},
		{"Y1 Y2 Y3", false, "has 1"},
		{"X1 X2 Z9 X-witnesses Y-witnesses", false, "has 1 (X-witnesses)"},
		{"", false, "has 0"},
	}
	for _, tt := range tests {
		t.Run(tt.cosigners, func(t *testing.T) {
			err := p.Check(strings.Fields(tt.cosigners))
			if got := err == nil; got != tt.want || p.Satisfied(strings.Fields(tt.cosigners)) != tt.want {
				t.Fatalf("Check = %v, want satisfied %v", err, tt.want)
			}
			if err != nil {
				var qe *QuorumError
				if !errors.As(err, &qe) || !errors.Is(err, ErrQuorum) || !strings.Contains(qe.Reason, tt.why) {
					t.Fatalf("err = %v, want reason containing %q", err, tt.why)
				}
			}
		})
	}
}

func TestPolicyQuorumForms(t *testing.T) {
	ws, _ := policyKeys(t)
	w := func(n string) string { return "witness " + n + " " + ws[n].vkey() + "\n" }
	tests := []struct {
		name, policy, cosigners string
		want                    bool
	}{
		{"none", "quorum none\n", "", true},
		{"single witness", w("X1") + "quorum X1\n", "X1", true},
		{"single witness missing", w("X1") + w("X2") + "quorum X1\n", "X2", false},
		{"2 of 3", w("X1") + w("X2") + w("X3") + "group g 2 X1 X2 X3\nquorum g\n", "X3 X1", true},
		{"2 of 3 short", w("X1") + w("X2") + w("X3") + "group g 2 X1 X2 X3\nquorum g\n", "X3", false},
		{"all", w("X1") + w("X2") + "group g all X1 X2\nquorum g\n", "X1", false},
		{"any", w("X1") + w("X2") + "group g any X1 X2\nquorum g\n", "X2", true},
		{"three levels", w("X1") + w("X2") + w("Y1") + "group a any X1 X2\ngroup b all a Y1\ngroup c 1 b\nquorum c\n", "X2 Y1", true},
		{"three levels short", w("X1") + w("X2") + w("Y1") + "group a any X1 X2\ngroup b all a Y1\ngroup c 1 b\nquorum c\n", "X2", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePolicy([]byte(tt.policy))
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Satisfied(strings.Fields(tt.cosigners)); got != tt.want {
				t.Fatalf("Satisfied = %v (%v)", got, p.Check(strings.Fields(tt.cosigners)))
			}
		})
	}
}

func TestParsePolicyErrors(t *testing.T) {
	ws, lvk := policyKeys(t)
	x1, x2 := ws["X1"].vkey(), ws["X2"].vkey()
	tests := []struct {
		name, policy string
		line         int
		reason       string
	}{
		{"no quorum", "witness X1 " + x1 + "\n", 0, "no quorum line"},
		{"two quorums", "quorum none\nquorum none\n", 2, "second quorum"},
		{"unknown keyword", "quorum none\nwitnes X1 " + x1 + "\n", 2, "unknown keyword"},
		{"quorum undefined", "quorum X1\nwitness X1 " + x1 + "\n", 1, "not defined on an earlier line"},
		{"member undefined", "group g any X1\nwitness X1 " + x1 + "\nquorum g\n", 1, "not defined"},
		{"duplicate name", "witness X1 " + x1 + "\nwitness X1 " + x2 + "\nquorum none\n", 2, "defined twice"},
		{"same key twice", "witness X1 " + x1 + "\nwitness X2 " + x1 + "\nquorum none\n", 2, "same key"},
		{"keyword as name", "witness all " + x1 + "\nquorum none\n", 1, "invalid name"},
		{"threshold 0", "witness X1 " + x1 + "\ngroup g 0 X1\nquorum g\n", 2, "threshold"},
		{"threshold too high", "witness X1 " + x1 + "\ngroup g 2 X1\nquorum g\n", 2, "threshold"},
		{"threshold +1", "witness X1 " + x1 + "\ngroup g +1 X1\nquorum g\n", 2, "threshold"},
		{"member twice", "witness X1 " + x1 + "\ngroup g any X1 X1\nquorum g\n", 2, "listed twice"},
		{"group without members", "group g any\nquorum none\n", 1, "want: group"},
		{"bad vkey", "witness X1 nope\nquorum none\n", 1, "witness vkey"},
		{"witness key as log", "log " + x1 + "\nquorum none\n", 1, "log vkey"},
		{"bad url", "witness X1 " + x1 + " ftp://x\nquorum none\n", 1, "http(s) URL"},
		{"extra field", "witness X1 " + x1 + " https://a/ extra\nquorum none\n", 1, "want: witness"},
		{"control char", "quorum none\x01\n", 1, "control character"},
		{"duplicate log", "log " + lvk + "\nlog " + lvk + "\nquorum none\n", 2, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePolicy([]byte(tt.policy))
			var pe *PolicyError
			if !errors.As(err, &pe) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v", err)
			}
			if pe.Line != tt.line || !strings.Contains(pe.Reason, tt.reason) {
				t.Fatalf("err = %v, want line %d reason %q", err, tt.line, tt.reason)
			}
		})
	}
}

func TestPolicyVerify(t *testing.T) {
	ws, lvk := policyKeys(t)
	p, err := ParsePolicy([]byte(nestedPolicy(ws, lvk)))
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := logKey(t, origin, 1)
	body := checkpointText(origin, 100)

	c, err := p.Verify(sign(t, body, ls, ws["X1"], ws["X3"], ws["Y2"]), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, cs := range c.Cosignatures {
		names = append(names, cs.Witness)
	}
	if strings.Join(names, " ") != "X1 X3 Y2" {
		t.Fatalf("cosigners %v", names)
	}

	_, err = p.Verify(sign(t, body, ls, ws["X1"], ws["Y2"]), nil)
	var qe *QuorumError
	if !errors.As(err, &qe) || strings.Join(qe.Cosigners, " ") != "X1 Y2" {
		t.Fatalf("below quorum: %v", err)
	}
	// An unknown witness does not count.
	stranger := newCosigner("x2.witness.example", 99, t0) // X2's name, another key
	if _, err := p.Verify(sign(t, body, ls, ws["X1"], stranger, ws["Y2"]), nil); !errors.Is(err, ErrQuorum) {
		t.Fatalf("stranger counted: %v", err)
	}
	// A checkpoint of a log the policy does not list.
	other, _ := logKey(t, "other.example", 3)
	if _, err := p.Verify(sign(t, checkpointText("other.example", 1), other, ws["X1"]), nil); !errors.Is(err, ErrLogSignature) {
		t.Fatalf("unlisted log: %v", err)
	}
}

func TestPolicyMarshal(t *testing.T) {
	ws, lvk := policyKeys(t)
	p, err := ParsePolicy([]byte(nestedPolicy(ws, lvk)))
	if err != nil {
		t.Fatal(err)
	}
	out := p.Marshal()
	p2, err := ParsePolicy(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if string(p2.Marshal()) != string(out) {
		t.Fatalf("not stable:\n%s\n%s", out, p2.Marshal())
	}
	if !strings.Contains(string(out), "group X-witnesses 2 X1 X2 X3\n") || !strings.HasSuffix(string(out), "quorum X-and-Y\n") {
		t.Fatalf("canonical form:\n%s", out)
	}
}
