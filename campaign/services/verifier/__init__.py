"""The transparency log's pure half: RFC 6962 Merkle math and C2SP tiles (`tlog`),
signed notes and checkpoints (`tlog_note`), witness cosignatures (`tlog_cosign`),
and the standalone verifier (`tlog_verify`, `tlog_checks`, `tlog_memory`,
`tlog_offline`). No Flask, no database: it runs on any machine with this package.

It imports no other package of the services, nor Flask's app.
"""
