exports.up = async function (knex) {
  await knex.schema.alterTable("accounts", (t) => {
    t.text("email");
  });
  await knex.schema.createTable("notes", (t) => {
    t.increments("id");
    t.integer("account_id").notNullable().references("accounts.id");
    t.text("body");
  });
};

exports.down = async function (knex) {
  await knex.schema.dropTable("notes");
  await knex.schema.alterTable("accounts", (t) => {
    t.dropColumn("email");
  });
};
