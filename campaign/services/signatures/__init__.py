"""A signature's life: signing (`signing`), confirming (`confirmation`,
`confirm_write`), a claimed batch's decisions before its mail (`signer_batch`), the
check-inbox page's note (`inbox`), and organizers' actions on signatures
(`moderation`). Each change to "counted" moves the count and the log with it.

It may import the models, the app's extensions and these packages below it: `verifier`,
`pages`, `sealing`, `outbox`, `intake`, `admins`, `log`, `signer_data`, `letters`.
Nothing above it, and nothing from the web layer.
"""
