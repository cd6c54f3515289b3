"""What each signer is mailed, and when: signer mail rendered at send time
(`signer_mail`), mail a visitor asks for (`mail_requests`), the one reminder
(`reminders`), organizers' updates and their preview (`updates`,
`update_preview`). The queue and the worker are `outbox`'s.

It may import the models, the app's extensions and these packages below it: `verifier`,
`pages`, `sealing`, `outbox`, `intake`, `admins`, `log`, `signer_data`. Nothing above
it, and nothing from the web layer.
"""
