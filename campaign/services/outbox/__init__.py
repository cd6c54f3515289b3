"""How mail leaves: the outbox queue (`mail`), a template to a MIME message to SMTP
(`mail_transport`), the leases and marks that send each message once
(`mail_lease`), the delivery worker (`mail_worker`), the batches it sends
(`mail_send`) and its processes (`mail_processes`). What a signer is mailed is decided
above, in `letters`: the worker runs the renderers and preparers the app registers.

It may import the models, the app's extensions and these packages below it: `verifier`,
`pages`, `sealing`. Nothing above it, and nothing from the web layer.
"""
