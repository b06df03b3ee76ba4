-- A `metrics` scope: /metrics shows gallery sizes and job counts of every
-- source system, so it is no longer public; a token needs this scope (admin
-- implies it) to read it.

ALTER TABLE api_tokens
    DROP CONSTRAINT api_tokens_scopes_check,
    ADD CONSTRAINT api_tokens_scopes_check CHECK (
        cardinality(scopes) > 0
        AND scopes <@ ARRAY['identities:read', 'identities:write', 'embeddings:write',
                            'jobs:submit', 'jobs:work', 'recognize', 'metrics',
                            'admin']::text[]);
