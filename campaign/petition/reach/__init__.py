"""Spreading a campaign: the share page, share image, QR code and flyer (share.py), the
sign form in a partner's iframe (embed.py) and its single-use token (embedding.py).
It may import the petition's shared modules, web/ and the services, never signing/.
"""
