"""The mock's behaviour, free of any web framework: what a request to the site is answered
(``engine``, ``replies``, ``faults``), what is recorded of it (``journal``, ``records``) and
where (``store``, ``sqlite_store``), checked against the wire contract (``contract``,
``fast_accept``). Requests and answers cross in and out as the plain values of ``wire``.

Nothing here imports Flask or the other layers of ``mock_server``; ``make lint`` holds it.
"""
