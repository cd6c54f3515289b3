"""What leaves the admin for the organizers: signer exports, streamed and audited before
the first byte (export.py), and the delivery pack's page (delivery.py). It may import
the admin's auth and forms, and the services.
"""
