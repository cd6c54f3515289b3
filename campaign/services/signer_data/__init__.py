"""Signers' data once stored: every consent declared once (`consents`), records read
back and erased (`privacy`), how long they are kept (`retention`), what the public may
see of signers (`public`), and the signers table's filters, looks and trends (`signers`).

It may import the models, the app's extensions and these packages below it: `verifier`,
`pages`, `sealing`, `outbox`, `intake`, `admins`, `log`. Nothing above it, and nothing
from the web layer.
"""
