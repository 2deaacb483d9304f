"""Pages served to people: the OAuth callback now, the Connections page later.

Server-rendered with Jinja2 (autoescaped); every asset is served by Gatekey itself, and the
Content-Security-Policy allows nothing else.
"""
