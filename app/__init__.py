"""The one-yuan clinic billing application.

Deliberately empty: importing :mod:`app.money` or any ``rules.py`` loads
neither Flask nor SQLAlchemy.  The application is built by
:func:`app.factory.create_app`.
"""
