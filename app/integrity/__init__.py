"""The audit chains' reading side: ``flask audit``, verify, adopt and the signed anchors.

It reads what the chains recorded (:mod:`app.audit`) against the visits,
statements and policy versions as they are now, so it sits above those areas,
while :mod:`app.audit` — which every area's operations append through — sits
below them all.
"""
