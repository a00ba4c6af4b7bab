#!/bin/sh
# The demo "application": it runs only after preflight has exec'd it, and uses exactly the
# objects that were missing. Any of them still missing makes psql fail, and the demo with it.
set -eu
echo "app: started as PID $$ (preflight exec'd into me), DATABASE_URL host=$(echo "$DATABASE_URL" | sed 's|.*@||; s|/.*||')"
psql -X -v ON_ERROR_STOP=1 -q "$DATABASE_URL" <<'SQL'
UPDATE users SET avatar_url = 'https://example.com/ada.png' WHERE email = 'ada@example.com';
INSERT INTO interview_sessions (user_id) SELECT id FROM users WHERE email = 'ada@example.com';
INSERT INTO nodes (owner_id, label, depth) SELECT id, 'root', 0 FROM users WHERE email = 'ada@example.com';
\pset footer off
SELECT u.email, u.avatar_url, count(s.id) AS sessions,
       (SELECT string_agg(label, ',') FROM get_nodes_system(u.id, 3)) AS nodes
FROM users u LEFT JOIN interview_sessions s ON s.user_id = u.id GROUP BY u.id;
SQL
echo "app: every query the incidents used to break worked"
