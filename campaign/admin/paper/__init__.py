"""The paper drive (issue 26): printable sign-up sheets (sheets.py), and the sheets'
entry by keyboard or CSV with a second organizer's check (entry.py). It may import the
admin's auth and forms, and the services.
"""
