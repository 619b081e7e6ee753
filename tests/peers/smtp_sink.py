#!/usr/bin/env python3
"""An SMTP server that stores every message it accepts in a Maildir, for arshjul's tests.

Usage: smtp_sink.py PORT MAILDIR [--tls CERT KEY] [--oauth]
Binds 127.0.0.1 only. With --tls (PEM files) it speaks SMTP over TLS from the first byte
(smtps), as a submission server on port 465 does. Recipients whose local part contains
"reject" get a permanent "550 mailbox unavailable", so tests can see dead-lettering of a bad
address.

With --oauth it is Exchange Online without basic authentication: every message needs AUTH
XOAUTH2 (no other mechanism is offered) with a bearer token that the OpenID provider
(ARSHJUL_TEST_OIDC_ISSUER) says by introspection is active and opens the user's mailbox (the
token's `mailbox` claim), checked with the client ARSHJUL_TEST_OIDC_GATEWAY (ID:SECRET).
Each stored message records the user (X-Authenticated-As) and a digest of the token
(X-Token-Digest), so tests can see a token renewed.
"""
import argparse
import asyncio
import base64
import hashlib
import json
import mailbox
import os
import ssl
import urllib.parse
import urllib.request

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Sink:
    def __init__(self, path):
        self.maildir = mailbox.Maildir(path, create=True)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "reject" in address.split("@")[0]:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = mailbox.MaildirMessage(envelope.original_content)
        message["X-RcptTo"] = ", ".join(envelope.rcpt_tos)
        if session.auth_data:
            user, digest = session.auth_data
            message["X-Authenticated-As"] = user
            message["X-Token-Digest"] = digest
        # As a delivering mail server does: the envelope sender, where bounces go.
        message["Return-Path"] = "<%s>" % envelope.mail_from
        self.maildir.add(message)
        return "250 Message accepted for delivery"


class OAuthSink(Sink):
    """Takes mail only from a client that authenticated with a token the provider vouches for."""

    def introspect(self, token):
        issuer = os.environ["ARSHJUL_TEST_OIDC_ISSUER"]
        client, secret = os.environ["ARSHJUL_TEST_OIDC_GATEWAY"].split(":", 1)
        request = urllib.request.Request(
            issuer + "/token/introspection",
            data=urllib.parse.urlencode({"token": token}).encode(),
            headers={"Authorization": "Basic " + base64.b64encode(f"{client}:{secret}".encode()).decode()},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)

    async def auth_XOAUTH2(self, server, args):
        if len(args) > 1:
            response = base64.b64decode(args[1])
        else:
            response = await server.challenge_auth("", encode_to_b64=False)
            if response is server.AuthCancelled:
                return AuthResult(success=False, handled=False)
        fields = dict(
            part.split("=", 1) for part in response.decode(errors="replace").split("\x01") if "=" in part
        )
        user, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        answer = await asyncio.to_thread(self.introspect, token)
        if answer.get("active") is True and answer.get("mailbox") == user:
            digest = hashlib.sha256(token.encode()).hexdigest()[:16]
            return AuthResult(success=True, auth_data=(user, digest))
        return AuthResult(success=False, handled=False)


def main():
    arguments = argparse.ArgumentParser()
    arguments.add_argument("port", type=int)
    arguments.add_argument("maildir")
    arguments.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    arguments.add_argument("--oauth", action="store_true")
    options = arguments.parse_args()
    context = None
    if options.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*options.tls)
    extra = {}
    handler = Sink(options.maildir)
    if options.oauth:
        handler = OAuthSink(options.maildir)
        extra = dict(
            auth_required=True,
            auth_require_tls=False,
            auth_exclude_mechanism=["LOGIN", "PLAIN"],
        )
    controller = Controller(
        handler, hostname="127.0.0.1", port=options.port, ssl_context=context, **extra
    )
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.get_event_loop().run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
