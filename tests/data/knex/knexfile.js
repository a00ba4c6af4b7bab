// A real knex project for the end-to-end tests (tests/e2e/test_migrate.py). knex and pg are
// installed by scripts/install-node-tools.sh into a cache folder, not here.
module.exports = {
  client: "pg",
  connection: process.env.DATABASE_URL,
  pool: { min: 0, max: 1 },
  migrations: { directory: "./migrations", tableName: "knex_migrations" },
};
