-- The database as the incidents found it: users without avatar_url, no interview_sessions, no
-- get_nodes_system, and a Prisma-made table whose column "userId" keeps its camelCase.
CREATE TABLE users (
    id    uuid PRIMARY KEY,
    email text NOT NULL
);

CREATE TABLE avatar_projects (
    id       uuid PRIMARY KEY,
    "userId" uuid NOT NULL REFERENCES users (id),
    title    text
);
CREATE INDEX "avatar_projects_userId_idx" ON avatar_projects ("userId");
