"""The mock's own HTTP/1.1 server: asyncio (on uvloop where it is installed) and httptools'
parser (llhttp, Node.js's), in one process by default.

The server owns every connection, so each of the mock's promises is kept here, not left to the
options of another server:

- the site (everything outside ``/__mock__/``) is answered on the event loop by the core's
  ``Engine.handle``: this package only carries bytes to an ``IncomingRequest`` and the
  ``Answer`` back to bytes; the admin API and the pages under ``/__mock__/`` go to the Flask
  app as WSGI, in a small thread pool, their body already read;
- faults: ``disconnect`` aborts the connection (not a byte of the answer is written),
  ``delay_ms`` waits on a timer (no thread held; the connection's later pipelined requests
  wait behind it, other connections go on), ``Retry-After`` is a header of the answer;
- slow and idle clients: the request line and headers must arrive within ``head_timeout``
  (10 s), a body within ``body_timeout`` (30 s) of its headers, and an idle kept-alive
  connection is closed after ``keepalive_timeout`` (30 s). A sweep twice a second closes the
  late ones: a slow head gets 408, a slow body to the site is journaled and answered as a body
  cut short (400);
- memory: the request line and headers are capped (``edge.MAX_HEAD``: 431), an admin body is
  refused (413) as soon as it passes its cap (by its Content-Length before a byte of it is
  read, or while a chunked one is read), a site body over 16 MiB is not read (413, journaled);
  a connection whose client does not read its answers is not read either;
- ``Host``: checked (``core.hosts``) as soon as the headers are in, before the body; a foreign
  one gets 421 (journaled when the path is the site's), and the connection is closed;
- ``--workers N``: N processes share the listening socket and an SQLite store; each writes
  the journal records of one turn of its event loop in one transaction and sends that turn's
  answers only after the commit, so that an answered request is always in the store, even
  after a SIGKILL.

Its parts, along the seams of the servers it is modelled on: the connection protocol
(``protocol``: bytes in, the parser, flow control, deadlines, refusals), where each request
ends in the bytes (``framing``), what a request's head says (``head``), the per-request cycle
(``cycle``: from a parsed request to its answer, through the engine or the admin app), the
answer's bytes (``answers``), the WSGI bridge to the admin app (``wsgi_bridge``), what the
connections of one process share (``server``), and the process runner (``runner``: workers,
signals, the open-file limit).
"""

from __future__ import annotations

from .limits import Limits
from .runner import raise_open_files, serve

__all__ = ["Limits", "raise_open_files", "serve"]
