package audit

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxExportLine is the longest line ParseExport and VerifyExport accept; the
// bounds Append applies keep every row well below it.
const MaxExportLine = 1 << 20

// rowJSON is the decoding side of Row.MarshalCanonical.
type rowJSON struct {
	Action         string   `json:"action"`
	Decision       string   `json:"decision"`
	Hash           string   `json:"hash"`
	Issuer         string   `json:"issuer"`
	KeyURI         string   `json:"key_uri"`
	LogIndex       *uint64  `json:"log_index"`
	PoEState       string   `json:"poe_state"`
	PredicateType  string   `json:"predicate_type"`
	Prev           string   `json:"prev"`
	Principal      string   `json:"principal"`
	QuotaState     string   `json:"quota_state"`
	Reason         string   `json:"reason"`
	RequestID      string   `json:"request_id"`
	Seq            uint64   `json:"seq"`
	SubjectDigests []string `json:"subject_digests"`
	Tenant         string   `json:"tenant"`
	Time           string   `json:"time"`
	UUID           string   `json:"uuid"`
}

// ParseRow decodes one line of an export (without its newline) and checks
// that it is exactly the canonical encoding of a row (so unknown, missing or
// duplicate members, other escapes or white space are refused) and that the
// row's hash is right. It does not check the row's place in a chain.
func ParseRow(line []byte) (Row, error) {
	r, err := decodeRow(line)
	if err != nil {
		return Row{}, err
	}
	if r.ComputeHash() != r.Hash {
		return Row{}, fmt.Errorf("row %d: the row's content does not give its hash", r.Seq)
	}
	return r, nil
}

// decodeRow is ParseRow without the hash check.
func decodeRow(line []byte) (Row, error) {
	if len(line) > MaxExportLine {
		return Row{}, fmt.Errorf("row of %d bytes exceeds %d", len(line), MaxExportLine)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var j rowJSON
	if err := dec.Decode(&j); err != nil {
		return Row{}, fmt.Errorf("decoding row: %w", err)
	}
	r := Row{Record: Record{RequestID: j.RequestID, Tenant: j.Tenant, Principal: j.Principal, Issuer: j.Issuer,
		Action: j.Action, SubjectDigests: j.SubjectDigests, PredicateType: j.PredicateType, PoEState: j.PoEState,
		QuotaState: j.QuotaState, KeyURI: j.KeyURI, Decision: j.Decision, Reason: j.Reason, LogIndex: j.LogIndex,
		UUID: j.UUID}, Seq: j.Seq}
	if r.SubjectDigests == nil {
		r.SubjectDigests = []string{}
	}
	var err error
	if r.Time, err = parseTime(j.Time); err != nil {
		return Row{}, fmt.Errorf("row %d: %w", j.Seq, err)
	}
	if r.Seq < 1 || r.Seq > MaxSeq || (r.LogIndex != nil && *r.LogIndex > MaxSeq) {
		return Row{}, fmt.Errorf("row %d: seq or log_index out of range", j.Seq)
	}
	if err := decodeHash(&r.Hash, j.Hash); err != nil {
		return Row{}, fmt.Errorf("row %d: hash: %w", j.Seq, err)
	}
	if err := decodeHash(&r.Prev, j.Prev); err != nil {
		return Row{}, fmt.Errorf("row %d: prev: %w", j.Seq, err)
	}
	if !bytes.Equal(r.appendJSON(make([]byte, 0, len(line)), true), line) {
		return Row{}, fmt.Errorf("row %d: not in canonical form", j.Seq)
	}
	return r, nil
}

func decodeHash(dst *[32]byte, s string) error {
	if len(s) != 64 {
		return fmt.Errorf("%d hex digits, want 64", len(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return errors.New("not lowercase hex")
		}
	}
	_, err := hex.Decode(dst[:], []byte(s))
	return err
}

// exportReader reads an export line by line with a bounded line length.
type exportReader struct {
	br   *bufio.Reader
	line int
}

// next returns the next line without its newline, io.EOF at the end, or an
// error for an over-long line, an empty line or a missing final newline.
func (er *exportReader) next() ([]byte, error) {
	var buf []byte
	for {
		chunk, err := er.br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > MaxExportLine+1 {
			return nil, formatError{fmt.Errorf("line %d: longer than %d bytes", er.line+1, MaxExportLine)}
		}
		switch {
		case err == nil:
			er.line++
			if len(buf) == 1 {
				return nil, formatError{fmt.Errorf("line %d: empty", er.line)}
			}
			return buf[:len(buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(buf) == 0:
			return nil, io.EOF
		case errors.Is(err, io.EOF):
			return nil, formatError{fmt.Errorf("line %d: no final newline", er.line+1)}
		default:
			return nil, err
		}
	}
}

// ParseExport reads an export written by Trail.Export and returns its rows.
// Every line must be a canonical row with the right hash (ParseRow), seqs must
// increase, and wherever two rows have consecutive seqs the second's prev must
// be the first's hash. Gaps in seq are allowed, because a filtered export
// (one tenant, one decision) leaves rows out; to prove that nothing was
// removed from an export of the whole chain use VerifyExport. The whole
// export is held in memory.
func ParseExport(r io.Reader) ([]Row, error) {
	er := exportReader{br: bufio.NewReaderSize(r, 64<<10)}
	var out []Row
	for {
		line, err := er.next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("audit: parsing export: %w", err)
		}
		row, err := ParseRow(line)
		if err != nil {
			return nil, fmt.Errorf("audit: parsing export: line %d: %w", er.line, err)
		}
		if n := len(out); n > 0 {
			last := &out[n-1]
			switch {
			case row.Seq <= last.Seq:
				return nil, fmt.Errorf("audit: parsing export: line %d: seq %d after seq %d", er.line, row.Seq, last.Seq)
			case row.Seq == last.Seq+1 && row.Prev != last.Hash:
				return nil, fmt.Errorf("audit: parsing export: line %d: row %d's prev is not row %d's hash", er.line, row.Seq, last.Seq)
			}
		}
		out = append(out, row)
	}
}

// VerifyExport checks, offline and streaming, an export of the whole chain
// (Trail.Export with AllTenants and no other filter) the way Trail.Verify
// checks the database: starting from the first row's seq and prev, every row
// must follow the one before it and have the right hash. Each anchor (read
// from the transparency log, see ParseAnchorStatement) whose seq the export
// covers must match the recomputed hash; the others are not counted. A
// malformed line is reported as ProblemUnreadable in the result's Failure;
// the error is for failures to read r only.
func VerifyExport(r io.Reader, anchors ...Anchor) (VerifyResult, error) {
	bySeq := make(map[uint64][]Anchor, len(anchors))
	for _, a := range anchors {
		bySeq[a.Seq] = append(bySeq[a.Seq], a)
	}
	er := exportReader{br: bufio.NewReaderSize(r, 64<<10)}
	var c chainChecker
	for {
		line, err := er.next()
		switch {
		case errors.Is(err, io.EOF):
			return c.res, nil
		case isFormatErr(err):
			c.fail(c.next, ProblemUnreadable, "%v", err)
			return c.res, nil
		case err != nil:
			return VerifyResult{}, fmt.Errorf("audit: verifying export: %w", err)
		}
		row, err := decodeRow(line)
		if err != nil {
			c.fail(c.next, ProblemUnreadable, "line %d: %v", er.line, err)
			return c.res, nil
		}
		if !c.row(&row) {
			return c.res, nil
		}
		for _, a := range bySeq[row.Seq] {
			if !c.anchor(a.Seq, a.Hash, a.LogIndex) {
				return c.res, nil
			}
		}
	}
}

// formatError marks an export line that is malformed (as opposed to a failure
// to read).
type formatError struct{ error }

func isFormatErr(err error) bool {
	var fe formatError
	return errors.As(err, &fe)
}
