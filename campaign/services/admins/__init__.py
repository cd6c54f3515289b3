"""The organizers' accounts: roles and changes (`accounts`), argon2id passwords
(`passwords`), signing in with its lockout (`sign_in`) and the second factor
(`totp`).

It may import the models, the app's extensions and these packages below it: `verifier`,
`pages`, `sealing`, `outbox`, `intake`. Nothing above it, and nothing from the web
layer.
"""
