"""The server's transparency log: the pending row each change to "counted" queues
(`tlog_pending`), pending rows to leaves, tiles and signed checkpoints (`transparency`),
the signers' receipts (`receipts`), the signing key and origins (`tlog_keys`), reading
tiles and receipts (`tlog_reader`, `tlog_store`), witnesses and their cosignatures
(`tlog_witness`, `tlog_push`) and evidence bundles (`tlog_evidence`).
The math and the verifier are `verifier`'s.

It may import the models, the app's extensions and these packages below it: `verifier`,
`pages`, `sealing`, `outbox`, `intake`, `admins`. Nothing above it, and nothing from the
web layer.
"""
