package attest

import (
	"context"
	"fmt"
	"strings"

	"github.com/stellaops/stellad/internal/audit"
	"github.com/stellaops/stellad/internal/authn"
)

// ListQuery selects logged entries in log order. Zero values select all.
type ListQuery struct {
	// Tenant selects one tenant's entries; empty means every tenant. With
	// admission a caller bound to a tenant always gets its own tenant's only.
	Tenant        string
	After         *uint64
	Limit         int // default 100, at most 1000
	PredicateType string
	// SubjectDigest is "alg:hex", for example sha256:abcd…
	SubjectDigest string
}

// Summary is one row of a listing.
type Summary struct {
	UUID           string
	Index          uint64
	EnvelopeSHA256 string
	PredicateType  string
	Tenant         string
	KeyID          string
	CreatedAt      string
	Subjects       []Subject
}

// Subject is one digest of one subject of a listed entry.
type Subject struct {
	Name, Algorithm, Digest string
}

// List returns up to q.Limit logged entries after q.After, and whether more
// follow; the read is audited.
func (s *Service) List(ctx context.Context, call Call, q ListQuery) ([]Summary, bool, error) {
	rec := s.baseRecord(call.RequestID, call.Caller, audit.ActionList)
	if s.admission() != nil {
		if call.Caller == nil {
			return nil, false, errNoCaller
		}
		switch c := call.Caller; {
		case c.Tenant == "" && c.HasScope(authn.ScopeAdmin):
			// An admin without a tenant lists any tenant's, or all.
		case c.Tenant == "" || q.Tenant != "" && q.Tenant != c.Tenant:
			return nil, false, s.refuse(ctx, c, rec, &authn.Error{Code: authn.CodeTenantForbidden,
				Msg: fmt.Sprintf("the caller may not list tenant %q", q.Tenant)})
		default:
			q.Tenant = c.Tenant
		}
	}
	out, more, err := s.list(ctx, q)
	if err != nil {
		return nil, false, s.refuse(ctx, call.Caller, rec, err)
	}
	if err := s.allowed(ctx, call.Caller, rec); err != nil {
		return nil, false, err
	}
	return out, more, nil
}

func (s *Service) list(ctx context.Context, q ListQuery) ([]Summary, bool, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	if limit > 1000 {
		return nil, false, fmt.Errorf("%w: limit %d is over 1000", ErrInvalidRequest, limit)
	}
	where := []string{"e.state = 'logged'"}
	var args []any
	if q.After != nil {
		where = append(where, "e.log_index > ?")
		args = append(args, int64(*q.After))
	}
	if q.Tenant != "" {
		where = append(where, "e.tenant = ?")
		args = append(args, q.Tenant)
	}
	if q.PredicateType != "" {
		where = append(where, "e.predicate_type = ?")
		args = append(args, q.PredicateType)
	}
	if q.SubjectDigest != "" {
		alg, d, ok := strings.Cut(q.SubjectDigest, ":")
		if !ok || alg == "" || d == "" {
			return nil, false, fmt.Errorf("%w: subject %q is not ALG:HEX", ErrInvalidRequest, q.SubjectDigest)
		}
		where = append(where, "EXISTS (SELECT 1 FROM entry_subjects s WHERE s.entry_id = e.id AND s.algorithm = ? AND s.digest = ?)")
		args = append(args, strings.ToLower(alg), strings.ToLower(d))
	}
	args = append(args, limit+1)
	rows, err := s.cfg.DB.Read().QueryContext(ctx, `SELECT e.id, e.uuid, e.log_index, e.envelope_sha256, e.predicate_type, e.tenant,
		e.key_id, e.created_at FROM entries e WHERE `+strings.Join(where, " AND ")+` ORDER BY e.log_index LIMIT ?`, args...)
	if err != nil {
		return nil, false, fmt.Errorf("listing entries: %w", err)
	}
	defer rows.Close()
	var out []Summary
	var ids []int64
	for rows.Next() {
		var sm Summary
		var id, idx int64
		if err := rows.Scan(&id, &sm.UUID, &idx, &sm.EnvelopeSHA256, &sm.PredicateType, &sm.Tenant, &sm.KeyID, &sm.CreatedAt); err != nil {
			return nil, false, fmt.Errorf("listing entries: %w", err)
		}
		sm.Index = uint64(idx)
		out = append(out, sm)
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("listing entries: %w", err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	for i := range out {
		subs, err := s.subjects(ctx, ids[i], out[i].UUID)
		if err != nil {
			return nil, false, err
		}
		out[i].Subjects = subs
	}
	return out, more, nil
}

func (s *Service) subjects(ctx context.Context, id int64, uuid string) ([]Subject, error) {
	rows, err := s.cfg.DB.Read().QueryContext(ctx,
		`SELECT name, algorithm, digest FROM entry_subjects WHERE entry_id = ? ORDER BY name, algorithm, digest`, id)
	if err != nil {
		return nil, fmt.Errorf("reading subjects of %s: %w", uuid, err)
	}
	defer rows.Close()
	var out []Subject
	for rows.Next() {
		var sb Subject
		if err := rows.Scan(&sb.Name, &sb.Algorithm, &sb.Digest); err != nil {
			return nil, fmt.Errorf("reading subjects of %s: %w", uuid, err)
		}
		out = append(out, sb)
	}
	return out, rows.Err()
}
