"""Personal data at rest: the keys and ciphers (`crypto`), the one path in and out of
personal data (`sealed`), the keyed hashes that match signers without knowing them
(`blind_index`), the organizers' public key (`organizer_key`), the signer's own copy
(`signer_copy`), the append-only audit log that records every look (`audit`), key
rotation (`rotation`) and the blind indexes' retention (`index_retention`).

It may import the models, the app's extensions and these packages below it: `verifier`,
`pages`. Nothing above it, and nothing from the web layer.
"""
