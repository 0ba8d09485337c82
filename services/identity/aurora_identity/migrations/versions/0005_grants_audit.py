"""Coach grants and the append-only audit log.

Revision ID: 0005_grants_audit
Revises: 0002
Create Date: 2026-11-24

Append-only, enforced by PostgreSQL rather than by our code:
- a BEFORE UPDATE OR DELETE row trigger and a BEFORE TRUNCATE statement trigger raise,
  which binds every role, the table owner included (superusers and the owner can only
  get past it by disabling or dropping the trigger, which is DDL and leaves a trace);
- UPDATE, DELETE and TRUNCATE are revoked from PUBLIC and from every role holding them
  when the table is created (default privileges may hand them to an application role),
  the owner included. An owner may grant itself the privileges back, so when the service
  connects as the owner (development, `make run`) the trigger is the barrier that
  holds; production should migrate as the owner and serve as a separate role that has
  only SELECT and INSERT here, and then both barriers hold.

Snapshots of emails are plain columns without a foreign key, so purging a user keeps
the audit trail (GDPR Art. 17(3)(b)/(e): kept to meet legal obligations and to defend
legal claims).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_grants_audit"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "identity"
NON_TERMINAL = "status IN ('invited', 'requested', 'active')"

APPEND_ONLY_FUNCTION = f"""
CREATE FUNCTION {SCHEMA}.audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""

# Strip UPDATE/DELETE/TRUNCATE from everyone who holds them right after creation.
REVOKE_FROM_HOLDERS = f"""
DO $$
DECLARE
    holder text;
BEGIN
    REVOKE UPDATE, DELETE, TRUNCATE ON {SCHEMA}.audit_log FROM PUBLIC;
    FOR holder IN
        SELECT DISTINCT r.rolname
        FROM pg_class c
        CROSS JOIN LATERAL aclexplode(
            coalesce(c.relacl, acldefault('r', c.relowner))
        ) AS acl
        JOIN pg_roles r ON r.oid = acl.grantee
        WHERE c.oid = '{SCHEMA}.audit_log'::regclass
          AND acl.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')
    LOOP
        EXECUTE format(
            'REVOKE UPDATE, DELETE, TRUNCATE ON {SCHEMA}.audit_log FROM %I', holder
        );
    END LOOP;
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "grants",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("athlete_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("coach_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("initiated_by", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", postgresql.UUID(as_uuid=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('invited', 'requested', 'active', 'revoked', 'declined')",
            name="ck_grants_status",
        ),
        sa.CheckConstraint(
            "scopes <@ ARRAY['read', 'phases']::text[] AND 'read' = ANY(scopes)",
            name="ck_grants_scopes",
        ),
        sa.CheckConstraint("athlete_id <> coach_id", name="ck_grants_two_people"),
        sa.CheckConstraint(
            "initiated_by IN (athlete_id, coach_id)", name="ck_grants_initiated_by_party"
        ),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            [f"{SCHEMA}.users.id"],
            name="fk_grants_athlete_id_users",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["coach_id"],
            [f"{SCHEMA}.users.id"],
            name="fk_grants_coach_id_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_grants"),
        schema=SCHEMA,
    )
    op.create_index(
        "uq_grants_open_pair",
        "grants",
        ["athlete_id", "coach_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text(NON_TERMINAL),
    )
    op.create_index("ix_grants_coach_id", "grants", ["coach_id"], schema=SCHEMA)

    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("actor_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("actor_email", sa.Text(), nullable=True),
        sa.Column("actor_role", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("subject_user_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("subject_email", sa.Text(), nullable=True),
        sa.Column("resource", sa.Text(), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("service", sa.Text(), server_default=sa.text("'identity'"), nullable=False),
        sa.Column("redacted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        schema=SCHEMA,
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"], schema=SCHEMA)
    op.create_index("ix_audit_log_actor_id", "audit_log", ["actor_id", "id"], schema=SCHEMA)
    op.create_index(
        "ix_audit_log_subject_user_id", "audit_log", ["subject_user_id", "id"], schema=SCHEMA
    )
    op.create_index("ix_audit_log_action", "audit_log", ["action", "id"], schema=SCHEMA)

    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(
        f"CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE "
        f"ON {SCHEMA}.audit_log FOR EACH ROW "
        f"EXECUTE FUNCTION {SCHEMA}.audit_log_append_only()"
    )
    op.execute(
        f"CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE "
        f"ON {SCHEMA}.audit_log FOR EACH STATEMENT "
        f"EXECUTE FUNCTION {SCHEMA}.audit_log_append_only()"
    )
    op.execute(REVOKE_FROM_HOLDERS)


def downgrade() -> None:
    op.drop_table("audit_log", schema=SCHEMA)
    op.execute(f"DROP FUNCTION {SCHEMA}.audit_log_append_only()")
    op.drop_index("ix_grants_coach_id", table_name="grants", schema=SCHEMA)
    op.drop_index("uq_grants_open_pair", table_name="grants", schema=SCHEMA)
    op.drop_table("grants", schema=SCHEMA)
