-- The schema as a half-migrated deployment leaves it: users lacks avatar_url, and
-- interview_sessions, nodes and get_nodes_system were never created.
CREATE TABLE users (
  id    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email varchar(255) NOT NULL UNIQUE
);
CREATE TABLE avatar_projects (
  id       serial PRIMARY KEY,
  "userId" uuid NOT NULL REFERENCES users (id),
  title    varchar(200)
);
INSERT INTO users (email) VALUES ('ada@example.com');
INSERT INTO avatar_projects ("userId", title) SELECT id, 'first avatar' FROM users;
