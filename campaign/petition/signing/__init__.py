"""The signer's path: the sign POST, check-inbox, confirm, discard, withdraw, my data and
unsubscribe (routes.py), a read sign form to a recorded submission (submit.py), and the
WSGI fast path that answers a valid sign or confirm POST before Flask (post_fastpath.py).
It may import the petition's shared modules, reach/, web/ and the services.
"""
