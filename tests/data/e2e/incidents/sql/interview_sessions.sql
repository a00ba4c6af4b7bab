CREATE TABLE interview_sessions (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL REFERENCES users (id),
    started_at timestamptz NOT NULL DEFAULT now()
);
