"""The SQL the application sends, in one place. The rules live in sql/functions."""

from __future__ import annotations

SYNC_IDENTITIES = "SELECT sync_identities(%s::jsonb, %s::text, %s::text[])"
INGEST_EMBEDDINGS = "SELECT ingest_embeddings(%s::jsonb, %s::text, %s::text[])"
EXTERNAL_IDENTITIES = "SELECT external_identities(%s::text, %s::integer, %s::text, %s::text[])"
AUTHENTICATE_TOKEN = "SELECT token_id, name, scopes, source_systems FROM authenticate_api_token(%s)"
CREATE_TOKEN = (
    "SELECT token_id, token "
    "FROM create_api_token(%s::text, %s::text[], %s::text[], %s::timestamptz)"
)
REVOKE_TOKEN = "SELECT revoke_api_token(%s)"
# state says what authenticate_api_token() would do with the token now.
LIST_TOKENS = """
    SELECT name, token_id, scopes, source_systems, created_at, expires_at,
           CASE WHEN revoked_at IS NOT NULL THEN 'revoked'
                WHEN expires_at <= now() THEN 'expired'
                ELSE 'live' END AS state,
           last_used_at
    FROM api_tokens
    ORDER BY revoked_at IS NOT NULL, coalesce(expires_at <= now(), false), name, created_at
"""
SUBMIT_JOB = "SELECT submit_job(%s::jsonb, %s::text, %s::text[])"
CLAIM_JOB = "SELECT claim_job(%s::jsonb, %s::text, %s::text[])"
HEARTBEAT_JOB = "SELECT heartbeat_job(%s::bigint, %s::jsonb, p_allowed_sources => %s::text[])"
COMPLETE_JOB = "SELECT complete_job(%s::bigint, %s::jsonb, p_allowed_sources => %s::text[])"
FAIL_JOB = "SELECT fail_job(%s::bigint, %s::jsonb, p_allowed_sources => %s::text[])"
JOB_STATUS = "SELECT job_status(%s::bigint, %s::text[])"
LIST_JOBS = "SELECT list_jobs(%s::text, %s::integer, %s::text[])"
AUDIT_JOURNAL = """
    SELECT occurred_at, operation, source_system, caller, dry_run, counts
    FROM audit_journal
    WHERE %(source)s::text IS NULL OR source_system = %(source)s::text
    ORDER BY audit_id DESC
    LIMIT %(limit)s
"""
DATABASE_PING = "SELECT 1"
