"""alembic environment: online migrations only, against $DATABASE_URL."""
import os
import time
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

# Tests only: line concurrent runs up so that they reach the database together, as replicas
# started by one deployment do on a machine that is not busy (Python's start-up alone spreads them
# over seconds on a loaded CI machine).
barrier = os.environ.get("PF_TEST_BARRIER")
if barrier:
    open(f"{barrier}.{os.getpid()}", "w").close()
    deadline = time.monotonic() + 120
    while not os.path.exists(barrier) and time.monotonic() < deadline:
        time.sleep(0.01)

url = os.environ["DATABASE_URL"]
# SQLAlchemy spells the scheme postgresql://; libpq also accepts postgres://.
if url.startswith("postgres://"):
    url = "postgresql://" + url[len("postgres://"):]

engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
