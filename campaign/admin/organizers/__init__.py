"""The organizers' own accounts: signing in (password, then TOTP) and out (sessions.py);
your account, and for owners everyone's (accounts.py). It may import the admin's auth
and forms, and the services.
"""
