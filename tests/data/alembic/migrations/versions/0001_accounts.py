"""accounts

Revision ID: 0001
Revises:
"""
from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
    )
    # Stands in for the data backfill real first migrations carry: it keeps the migration's
    # transaction open for two seconds, as on a production-sized table.
    op.execute("INSERT INTO accounts (name) SELECT 'user ' || g FROM generate_series(1, 2000) g")
    op.execute("SELECT pg_sleep(2)")


def downgrade():
    op.drop_table("accounts")
