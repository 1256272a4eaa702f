"""What policy delivery 2.0's checks, flags and receipt codes are: below the policy and the visits.

The rules (:mod:`app.checks.rules`: Rule, Severity, OversightPolicy and its
JSON, the peer flags, trust and the sample), their words in Chinese
(:mod:`app.checks.words`, :mod:`app.checks.labels`) and the receipt codes'
shape (:mod:`app.checks.codes`).  The policy versions store the settings and
the visits say their checks with these, so this area sits below both; what
queries the visits — the screening at recording, the flags, the review — is
:mod:`app.oversight`, above them.  The messages are translated in
``app/oversight/translations`` (Flask-Babel merges every area's catalog).
"""
