"""What leaves the server for the organizers: the exports' entry point and presets
(`export`, `export_presets`), signer rows as CSV or JSON Lines (`export_signers`,
`csv_stream`, `export_parallel`), the delivery summary (`export_summary`), the
delivery pack (`delivery`, its figures from `pack_numbers`, laid out by `pack_layout`),
and what organizers run beside their private key (`export_open`, `organizer_tools`).

It may import the models, the app's extensions and these packages below it: `verifier`,
`pages`, `sealing`, `outbox`, `intake`, `admins`, `log`, `signer_data`, `letters`,
`signatures`, `paper`. Nothing above it, and nothing from the web layer.
"""
