exports.up = async function (knex) {
  await knex.schema.createTable("accounts", (t) => {
    t.increments("id");
    t.text("name").notNullable();
  });
  // Stands in for a data backfill: the migration takes a moment, as on a real table.
  await knex.raw("SELECT pg_sleep(2)");
};

exports.down = async function (knex) {
  await knex.schema.dropTable("accounts");
};
