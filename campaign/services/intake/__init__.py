"""What a submission is read by before anything is stored: the field rules
(`validation`), likely typos in a domain (`email_typos`), the one abuse decision
and the trend alerts (`abuse`); and the signer links' tokens and absolute URLs
(`links`), which the log, the letters and the signatures all make.

It may import the models, the app's extensions and these packages below it: `verifier`,
`pages`, `sealing`, `outbox`. Nothing above it, and nothing from the web layer.
"""
