"""A real SMTP relay for tests/smtp_delivery.rs (aiosmtpd), storing what it receives in a Maildir.

    smtp_server.py MODE HOST PORT MAILDIR CERT KEY USER PASSWORD AUTH_LOG

MODE: starttls  - plain connect, STARTTLS required, AUTH required (only after STARTTLS);
      implicit  - TLS from the first byte (smtps), AUTH required;
      plain     - no TLS at all (a relay the client must refuse), AUTH offered in clear.
Every AUTH attempt appends "ok"/"fail" to AUTH_LOG, so a test can count attempts (no retries on
refused credentials). Prints "listening on HOST:PORT" once it accepts connections; stops on
SIGTERM/SIGINT.
"""
import signal
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

mode, host, port, maildir, cert, key, user, pw, auth_log = sys.argv[1:10]


def auth(server, session, envelope, mechanism, data):
    ok = (
        isinstance(data, LoginPassword)
        and data.login.decode() == user
        and data.password.decode() == pw
    )
    with open(auth_log, "a") as f:
        f.write(("ok" if ok else "fail") + "\n")
    # handled=False: aiosmtpd then answers 535 itself. Its default (handled=True) means "the
    # authenticator already replied", and a failed login would hang the session until timeout.
    return AuthResult(success=ok, handled=False)


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
common = dict(hostname=host, port=int(port), authenticator=auth, auth_required=True)
if mode == "starttls":
    c = Controller(Mailbox(maildir), tls_context=ctx, require_starttls=True,
                   auth_require_tls=True, **common)
elif mode == "implicit":
    # The whole session is TLS: aiosmtpd's "TLS before AUTH" check only knows STARTTLS.
    c = Controller(Mailbox(maildir), ssl_context=ctx, auth_require_tls=False, **common)
elif mode == "plain":
    c = Controller(Mailbox(maildir), auth_require_tls=False, **common)
else:
    sys.exit(f"unknown mode {mode!r}; use starttls, implicit or plain")

c.start()
print(f"listening on {host}:{port}", flush=True)
signal.sigwait({signal.SIGINT, signal.SIGTERM})
c.stop()
