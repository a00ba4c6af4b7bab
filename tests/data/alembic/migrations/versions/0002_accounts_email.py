"""accounts.email and notes

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    # ALTER TABLE takes an ACCESS EXCLUSIVE lock on accounts: it waits for every transaction that
    # has read accounts, which is why preflight's lock transaction must hold nothing else.
    op.add_column("accounts", sa.Column("email", sa.Text))
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("body", sa.Text),
    )


def downgrade():
    op.drop_table("notes")
    op.drop_column("accounts", "email")
