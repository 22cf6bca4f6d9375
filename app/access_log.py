"""gunicorn's access log, written in its default ("combined") format at a fraction of the cost.

gunicorn's ``Logger.atoms`` builds every atom any format could use for every request: one entry per
request header, response header and WSGI environ variable (about 70 formatted strings), and a
strftime of the time. Under load that was 15 % of a warm lite request's GIL time in
``py-spy record --gil`` (and the same share of the bare Flask floor's). ``AccessLogger`` computes
only the atoms of the default format, with the time formatted once a second, and writes the same
line. With any other ``--access-logformat`` it leaves the work to gunicorn.

The line goes straight to the streams of gunicorn's own access handlers (a file or stdout, with the
bare "%(message)s" format), under each handler's lock, as ``StreamHandler.emit`` writes it: a log
record per request (the caller's frame looked up, the record built, filtered and formatted) was
another 2-3 % of a warm request. Any other handler (syslog, a filter) gets the record as before.
"""

from __future__ import annotations

import logging
import time
import traceback

from gunicorn.config import AccessLogFormat
from gunicorn.glogging import Logger

DEFAULT_FORMAT = AccessLogFormat.default  # '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'


class AccessLogger(Logger):
    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        self._stamp_second = -1
        self._stamp = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self._stamp_second:  # a race only writes the same string twice
            self._stamp = time.strftime("[%d/%b/%Y:%H:%M:%S %z]", time.localtime(second))
            self._stamp_second = second
        return self._stamp

    def _plain_streams(self) -> list[logging.StreamHandler] | None:
        """gunicorn's access handlers when each just writes the message to a stream, else None."""
        log = self.access_log
        if log.filters or log.propagate or not log.isEnabledFor(logging.INFO):
            return None
        handlers = log.handlers
        for handler in handlers:
            if (type(handler) not in (logging.StreamHandler, logging.FileHandler) or handler.filters
                    or handler.formatter is None or handler.formatter._fmt != "%(message)s"
                    or handler.level > logging.INFO):
                return None
        return handlers

    def _write(self, line: str) -> None:
        streams = self._plain_streams()
        if streams is None:
            self.access_log.info("%s", line)
            return
        for handler in streams:
            with handler.lock:  # gunicorn reopens the file under this lock (USR1)
                handler.stream.write(line + handler.terminator)
                handler.flush()

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        if self.cfg.access_log_format != DEFAULT_FORMAT:
            super().access(resp, req, environ, request_time)
            return
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        atoms = (environ.get("REMOTE_ADDR", "-"), self._get_user(environ) or "-", self.now(),
                 f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}", status,
                 sent if sent is not None else "-", environ.get("HTTP_REFERER", "-"), environ.get("HTTP_USER_AGENT", "-"))
        try:
            # quotes escaped as gunicorn's SafeAtoms does, so a quoted field cannot be ended early
            self._write('%s - %s %s "%s" %s %s "%s" "%s"'
                        % tuple(a.replace('"', '\\"') if isinstance(a, str) else a for a in atoms))
        except Exception:  # noqa: BLE001 - as gunicorn: a log line must never fail a request
            self.error(traceback.format_exc())
