"""The background loops: one ``Loop`` machinery, the loops built on it, and ``Workers``.

``loop`` (threads, interval, isolated iterations, logs without secrets), ``usage_writer``
(credential reads and ``last_used_at``), ``refresher`` (tokens renewed before they expire),
``dispatcher`` (webhook deliveries), ``runner`` (queued runs), ``keepalive`` (credentials a
provider deactivates when idle, used in time), ``pool`` (``Workers``: the loops of ``serve``
and ``gatekey worker``, started and stopped as one).

Layer: below the service. A loop calls the service's system operations through a small
``Protocol`` of what it needs, so nothing here imports ``gatekey.service``; the runtime passes
the service in.
"""
