package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Paging bounds of List.
const (
	// DefaultLimit is the page size when Query.Limit is zero.
	DefaultLimit = 100
	// MaxLimit is the largest page List returns.
	MaxLimit = 1000
)

// ErrTenantRequired is returned by List and Export for a Query that names no
// tenant and does not ask for AllTenants.
var ErrTenantRequired = errors.New("audit: query names no tenant")

// Query selects rows for List and Export. Rows come in ascending seq order.
type Query struct {
	// Tenant selects one tenant's rows. Required unless AllTenants.
	Tenant string
	// AllTenants selects every tenant's rows, including rows with no tenant.
	// The caller must allow it for administrators only.
	AllTenants bool
	// After selects rows with seq > After (the next value List returned).
	After uint64
	// Limit is List's page size: 0 means DefaultLimit, above MaxLimit means
	// MaxLimit. Export ignores it.
	Limit int
	// Since and Until select rows with Since <= Time < Until; zero values
	// leave that end open.
	Since, Until time.Time
	// Decision selects DecisionAllow or DecisionDeny rows; empty means both.
	Decision string
}

const selectRows = `SELECT ` + rowCols + ` FROM audit_log`

// where builds the WHERE clause and arguments for q, for rows with
// After < seq <= upTo (upTo 0: no upper bound).
func (q Query) where(upTo uint64) (string, []any, error) {
	var conds []string
	var args []any
	switch {
	case q.AllTenants:
	case q.Tenant == "":
		return "", nil, ErrTenantRequired
	default:
		conds, args = append(conds, "tenant = ?"), append(args, q.Tenant)
	}
	if q.After > MaxSeq {
		return "", nil, fmt.Errorf("audit: query: after %d out of range", q.After)
	}
	conds, args = append(conds, "seq > ?"), append(args, int64(q.After))
	if upTo > 0 {
		conds, args = append(conds, "seq <= ?"), append(args, int64(upTo))
	}
	if !q.Since.IsZero() {
		conds, args = append(conds, "time >= ?"), append(args, formatTime(q.Since))
	}
	if !q.Until.IsZero() {
		conds, args = append(conds, "time < ?"), append(args, formatTime(q.Until))
	}
	switch q.Decision {
	case "":
	case DecisionAllow, DecisionDeny:
		conds, args = append(conds, "decision = ?"), append(args, q.Decision)
	default:
		return "", nil, fmt.Errorf("audit: query: unknown decision %q", q.Decision)
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// List returns one page of the rows q selects, in ascending seq order, and
// next: the After value of the following page, or 0 when this page is the
// last. It returns ErrTenantRequired when q names no tenant and is not
// AllTenants, so that a tenant's caller never sees another tenant's rows.
func (t *Trail) List(ctx context.Context, q Query) ([]Row, uint64, error) {
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = DefaultLimit
	case limit > MaxLimit:
		limit = MaxLimit
	}
	rows, err := t.page(ctx, q, 0, limit)
	if err != nil {
		return nil, 0, err
	}
	var next uint64
	if len(rows) == limit {
		next = rows[len(rows)-1].Seq
	}
	return rows, next, nil
}

func (t *Trail) page(ctx context.Context, q Query, upTo uint64, limit int) ([]Row, error) {
	where, args, err := q.where(upTo)
	if err != nil {
		return nil, err
	}
	rs, err := t.db.Read().QueryContext(ctx, selectRows+where+" ORDER BY seq LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("audit: listing rows: %w", err)
	}
	defer rs.Close()
	var out []Row
	for rs.Next() {
		r, err := scanRow(rs)
		if err != nil {
			return nil, fmt.Errorf("audit: listing rows: %w", err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("audit: listing rows: %w", err)
	}
	return out, nil
}

type scanner interface{ Scan(dest ...any) error }

// rowError reports a stored row whose columns cannot be read back into a Row
// (a malformed time or digest list, a hash of the wrong length): the table
// was edited.
type rowError struct {
	seq int64
	msg string
}

func (e *rowError) Error() string { return fmt.Sprintf("row %d: %s", e.seq, e.msg) }

// scanRow reads one row of selectRows.
func scanRow(s scanner, extra ...any) (Row, error) {
	var (
		r           Row
		seq         int64
		tm, digests string
		logIndex    *int64
		prev, hash  []byte
	)
	dest := []any{&seq, &tm, &r.RequestID, &r.Tenant, &r.Principal, &r.Issuer, &r.Action, &digests,
		&r.PredicateType, &r.PoEState, &r.QuotaState, &r.KeyURI, &r.Decision, &r.Reason, &logIndex, &r.UUID, &prev, &hash}
	if err := s.Scan(append(dest, extra...)...); err != nil {
		return Row{}, err
	}
	if seq < 1 || seq > MaxSeq {
		return Row{}, &rowError{seq, "seq out of range"}
	}
	r.Seq = uint64(seq)
	var err error
	if r.Time, err = parseTime(tm); err != nil {
		return Row{}, &rowError{seq, "unreadable time: " + err.Error()}
	}
	if err := json.Unmarshal([]byte(digests), &r.SubjectDigests); err != nil || r.SubjectDigests == nil {
		return Row{}, &rowError{seq, "unreadable subject digests"}
	}
	if logIndex != nil {
		if *logIndex < 0 || *logIndex > MaxSeq {
			return Row{}, &rowError{seq, "log index out of range"}
		}
		v := uint64(*logIndex)
		r.LogIndex = &v
	}
	if len(prev) != 32 || len(hash) != 32 {
		return Row{}, &rowError{seq, "prev or hash is not 32 bytes"}
	}
	copy(r.Prev[:], prev)
	copy(r.Hash[:], hash)
	return r, nil
}

// exportPage is how many rows Export reads per query: it never holds a read
// snapshot open for the whole export.
const exportPage = 1000

// Export writes the rows q selects (q.Limit is ignored) to w as JSON Lines,
// one Row.MarshalCanonical object per line, in ascending seq order. It
// exports the rows that exist when it starts; rows appended meanwhile are
// left out. Errors are those of List, of reading and of w. An export with
// AllTenants and no other filter is the whole chain and verifies offline with
// VerifyExport; a filtered export has gaps and its rows verify one by one
// (ParseExport).
func (t *Trail) Export(ctx context.Context, w io.Writer, q Query) error {
	if _, _, err := q.where(0); err != nil {
		return err
	}
	head, _, err := t.Head(ctx)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var line []byte
	for q.After < head {
		rows, err := t.page(ctx, q, head, exportPage)
		if err != nil {
			return err
		}
		for i := range rows {
			line = append(rows[i].appendJSON(line[:0], true), '\n')
			if _, err := bw.Write(line); err != nil {
				return fmt.Errorf("audit: exporting: %w", err)
			}
		}
		if len(rows) < exportPage {
			break
		}
		q.After = rows[len(rows)-1].Seq
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("audit: exporting: %w", err)
	}
	return nil
}
