-- Emergency fallback: the migration that creates interview sessions did not run.
CREATE TABLE IF NOT EXISTS interview_sessions (
  id         bigserial PRIMARY KEY,
  user_id    uuid REFERENCES users (id) ON DELETE CASCADE,
  started_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS interview_sessions_user_id_idx ON interview_sessions (user_id);
