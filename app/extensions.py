"""Extensions, created unbound and bound in :func:`app.factory.create_app`."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names so Alembic migrations can name (and later drop) them.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)

# The mapped base every model derives from: Flask-SQLAlchemy's ``db.Model`` at
# run time, which type checkers cannot see through, so they are shown ``Base``.
if TYPE_CHECKING:
    Model: TypeAlias = Base
else:
    Model = db.Model
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# Throttling (login): storage and limits come from the app config (RATELIMIT_*).
limiter = Limiter(key_func=get_remote_address, headers_enabled=True)
