#!/usr/bin/env python3
"""An SMTP server that stores every message it accepts in a Maildir, for arshjul's tests.

Usage: smtp_sink.py PORT MAILDIR [CERT KEY]
Binds 127.0.0.1 only. With CERT and KEY (PEM files) it speaks SMTP over TLS from the first
byte (smtps), as a submission server on port 465 does. Recipients whose local part contains "reject" get a permanent
"550 mailbox unavailable", so tests can see dead-lettering of a bad address.
"""
import asyncio
import mailbox
import ssl
import sys

from aiosmtpd.controller import Controller


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
        # As a delivering mail server does: the envelope sender, where bounces go.
        message["Return-Path"] = "<%s>" % envelope.mail_from
        self.maildir.add(message)
        return "250 Message accepted for delivery"


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    context = None
    if len(sys.argv) == 5:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[3], sys.argv[4])
    controller = Controller(Sink(path), hostname="127.0.0.1", port=port, ssl_context=context)
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.get_event_loop().run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
