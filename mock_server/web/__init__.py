"""The Flask adapter over the core: the application factory (``app``), the site's routes
(``site_routes``, with ``fast_path`` for the one hot request), the admin API and inspector
(``admin_routes``), and how a WSGI environ becomes the core's request (``environ``).
"""
