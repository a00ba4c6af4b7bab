-- An emergency repair: the index that a failed CREATE INDEX CONCURRENTLY left out.
CREATE INDEX IF NOT EXISTS projects_owner_id_idx ON projects (owner_id);
