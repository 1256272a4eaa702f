"""Publishing a district's policy versions: ``flask policy load`` and ``list``.

Loading a version asks what the recorded visits say (a version that has
priced a visit never changes; a new one starts after the last priced day),
and listing counts each version's visits, so this area sits above
:mod:`app.visits`, while :mod:`app.policy` (the rules, models, queries and
file schema that price a visit) sits below it.
"""
