"""The HTTP frame around the blueprints: what every answer shares (error pages, security
headers, the signer links' rules, the client's address) and the page fast path, a WSGI
layer below Flask. It may import extensions, i18n and the services, never a blueprint.
"""
