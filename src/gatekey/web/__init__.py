"""Pages served to people: sign-in, Connections, Settings, Flows, Runs, Apps, the OAuth callback.

Server-rendered with Jinja2 (autoescaped); every asset is served by Gatekey itself, and the
Content-Security-Policy allows nothing else. ``routes/`` holds one module per page group,
``deps`` the session and CSRF checks, ``views`` what the templates show, ``errors`` how a
refusal is answered. The pages call the service only; they import nothing from ``api``.
"""
