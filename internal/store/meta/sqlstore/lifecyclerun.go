package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// Lifecycle runs: the repositories with a policy, and the plan in progress of
// each (lifecycle_plans, lifecycle_plan_actions), migration 0007.

// ListLifecycleRepositories lists repositories with a lifecycle policy by id.
func (s *Store) ListLifecycleRepositories(ctx context.Context, afterID int64, limit int) (out []meta.Repository, err error) {
	defer catch("list lifecycle repositories", &err)
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(`SELECT `+prefixed("r.", repoCols)+` FROM repositories r
JOIN lifecycle_policies p ON p.repo_id = r.id WHERE r.id > ? ORDER BY r.id LIMIT ?`), afterID, lim(limit))
	if err != nil {
		return nil, s.wrap("list lifecycle repositories", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRepo(rows)
		if err != nil {
			return nil, s.wrap("list lifecycle repositories", err)
		}
		out = append(out, r)
	}
	return out, s.wrap("list lifecycle repositories", rows.Err())
}

// StartLifecyclePlan stores the plan unless the repository has one.
func (s *Store) StartLifecyclePlan(ctx context.Context, p meta.LifecyclePlan) (out meta.LifecyclePlan, created bool, err error) {
	defer catch("start lifecycle plan", &err)
	createdAt := s.nanosOrNow(p.CreatedAt)
	asOf := s.nanosOrNow(p.AsOf)
	err = s.write(ctx, "start lifecycle plan", func(tx *sql.Tx) error {
		created = false
		cur, err := s.getPlan(ctx, tx, p.RepoID, true)
		if err == nil {
			out = cur
			return nil
		}
		if !errors.Is(err, meta.ErrNotFound) {
			return err
		}
		ok, err := s.exists(ctx, tx, `SELECT 1 FROM repositories WHERE id = ?`, p.RepoID)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("repository %d", p.RepoID)
		}
		var id int64
		if err := s.row(ctx, tx, `INSERT INTO lifecycle_plans (repo_id, policy_text, as_of, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
			p.RepoID, p.PolicyText, asOf, createdAt).Scan(&id); err != nil {
			return err
		}
		st, err := tx.PrepareContext(ctx, s.d.Rebind(`INSERT INTO lifecycle_plan_actions (plan_id, digest, seq, action, rule_priority, tags, image_status, state)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`))
		if err != nil {
			return err
		}
		defer st.Close()
		out = meta.LifecyclePlan{RepoID: p.RepoID, ID: id, PolicyText: p.PolicyText, AsOf: fromNanos(asOf), CreatedAt: fromNanos(createdAt)}
		for i, a := range p.Actions {
			tags, err := json.Marshal(a.Tags)
			if err != nil {
				return err
			}
			if _, err := st.ExecContext(ctx, id, a.Digest, i, a.Action, a.RulePriority, string(tags), a.Status, meta.PlanPending); err != nil {
				return err
			}
			a.State = meta.PlanPending
			a.Tags = append([]string(nil), a.Tags...)
			out.Actions = append(out.Actions, a)
		}
		created = true
		return nil
	})
	if err != nil {
		return meta.LifecyclePlan{}, false, err
	}
	return out, created, nil
}

// GetLifecyclePlan returns the repository's plan with its actions.
func (s *Store) GetLifecyclePlan(ctx context.Context, repoID int64) (p meta.LifecyclePlan, err error) {
	defer catch("get lifecycle plan", &err)
	err = s.read(ctx, "get lifecycle plan", func(tx *sql.Tx) error {
		var err error
		p, err = s.getPlan(ctx, tx, repoID, false)
		return err
	})
	return p, err
}

func (s *Store) getPlan(ctx context.Context, tx *sql.Tx, repoID int64, lock bool) (meta.LifecyclePlan, error) {
	p := meta.LifecyclePlan{RepoID: repoID}
	q := `SELECT id, policy_text, as_of, created_at FROM lifecycle_plans WHERE repo_id = ?`
	if lock {
		q += s.d.forUpdate
	}
	var asOf, created int64
	err := s.row(ctx, tx, q, repoID).Scan(&p.ID, &p.PolicyText, &asOf, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return meta.LifecyclePlan{}, notFound("lifecycle plan of repository %d", repoID)
	}
	if err != nil {
		return meta.LifecyclePlan{}, err
	}
	p.AsOf, p.CreatedAt = fromNanos(asOf), fromNanos(created)
	rows, err := tx.QueryContext(ctx, s.d.Rebind(`SELECT digest, action, rule_priority, tags, image_status, state FROM lifecycle_plan_actions
WHERE plan_id = ? ORDER BY seq`), p.ID)
	if err != nil {
		return meta.LifecyclePlan{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var a meta.LifecyclePlanAction
		var tags string
		if err := rows.Scan(&a.Digest, &a.Action, &a.RulePriority, &tags, &a.Status, &a.State); err != nil {
			return meta.LifecyclePlan{}, err
		}
		if tags != "" {
			if err := json.Unmarshal([]byte(tags), &a.Tags); err != nil {
				return meta.LifecyclePlan{}, fmt.Errorf("lifecycle plan %d, %s: tags: %w", p.ID, a.Digest, err)
			}
		}
		p.Actions = append(p.Actions, a)
	}
	return p, rows.Err()
}

// FinishLifecycleAction moves a pending action to its final state, with its
// audit event in the same transaction: an action is audited exactly once
// however many runs race or retry it.
func (s *Store) FinishLifecycleAction(ctx context.Context, planID int64, digest, state string, ev *meta.AuditEvent) (moved bool, err error) {
	defer catch("finish lifecycle action", &err)
	if state != meta.PlanDone && state != meta.PlanSkipped {
		return false, fmt.Errorf("sqlstore: finish lifecycle action: state %q is not %s or %s", state, meta.PlanDone, meta.PlanSkipped)
	}
	if ev != nil && ev.Action == "" {
		return false, errors.New("sqlstore: finish lifecycle action: audit event without action")
	}
	err = s.write(ctx, "finish lifecycle action", func(tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, `UPDATE lifecycle_plan_actions SET state = ? WHERE plan_id = ? AND digest = ? AND state = ?`,
			state, planID, digest, meta.PlanPending)
		if err != nil {
			return err
		}
		moved = n == 1
		if moved && ev != nil {
			_, err = s.insertAudit(ctx, tx, *ev)
		}
		return err
	})
	if err != nil {
		return false, err
	}
	return moved, nil
}

// EndLifecyclePlan removes a plan and records the evaluation time.
func (s *Store) EndLifecyclePlan(ctx context.Context, repoID, planID int64, evaluatedAt time.Time) (err error) {
	defer catch("end lifecycle plan", &err)
	return s.write(ctx, "end lifecycle plan", func(tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, `DELETE FROM lifecycle_plans WHERE repo_id = ? AND id = ?`, repoID, planID)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("lifecycle plan %d of repository %d", planID, repoID)
		}
		// Explicitly: SQLite cascades only with foreign keys on, and the
		// actions must never outlive their plan.
		if _, err := s.exec(ctx, tx, `DELETE FROM lifecycle_plan_actions WHERE plan_id = ?`, planID); err != nil {
			return err
		}
		if evaluatedAt.IsZero() {
			return nil
		}
		_, err = s.exec(ctx, tx, `UPDATE lifecycle_policies SET last_evaluated_at = ? WHERE repo_id = ?`, evaluatedAt.UnixNano(), repoID)
		return err
	})
}
