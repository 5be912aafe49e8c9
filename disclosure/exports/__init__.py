"""The disclosure package of a warrant: building it, reading it back, checking it.

A conversations package is a signed ZIP (``manifest.json``, ``manifest.sig``, the operator's public
key, ``conversations.json``, ``messages.csv`` and the PDF report in one or more volumes). Its modules,
one job each; import the module you need (nothing is re-exported here):

- ``package``: builds the package in one streaming pass (pseudonyms, redaction, JSON and CSV written
  as the rows come, the manifest and its Ed25519 signature); ``csv_cell_text``, ``sha256_file``.
- ``layout``: what the package holds and where, shared by the writer and its readers, and the one
  reader of the alias table, ``read_participants``.
- ``reader``: reads a large scope's rows in a process of its own while ``package`` writes (pure: no
  Django), and the forkserver context the PDF workers share.
- ``pdf``: renders the report (WeasyPrint) in volumes, in parallel processes; ``write_pdf`` for the
  identity sheet and the notification letters.
- ``fonts``: which characters the report's fonts can draw (fontconfig), the others spelled ``[U+XXXX]``.
- ``verify_package``: the checker agencies run on a package; it is also served as a single file at
  ``/operator-key/verify_package.py``, so it imports nothing from the project.
"""
