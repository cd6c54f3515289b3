"""Paper signatures (issue 26): printed sign-up sheets, their entry, and their count.

Owns the sheet's number and check code (`sheet_codes`), the printed sheets, the entry of
a sheet's rows and their place in the count, the log and the delivery pack. It may
import the models, the shared services (crypto, consents, sealing, counting, the log's
queue) and nothing from the web layer.
"""
