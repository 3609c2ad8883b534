"""Running the mock: the ``aichat-mock`` command (``cli``), the WSGI servers it can run on
(``servers``), the command as a child process of another program (``child_process``), and
``make demo`` (``demo``).
"""

#: The start of the first line the command prints on standard output, before its URL.
LISTENING = "aichat-mock listening on"
