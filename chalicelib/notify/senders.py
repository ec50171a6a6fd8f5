"""Where an email goes: SES, or (locally) a folder of .eml files, the same
bytes either way."""

import os
import tempfile
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any, Protocol

LOCAL_SENDER = 'orders@localhost'


class Sender(Protocol):
    """What the notifier needs of a sender: the From address, and a way out."""

    sender: str

    def send(self, message: EmailMessage) -> None: ...


class SesSender:
    def __init__(self, ses_client: Callable[[], Any], sender: str) -> None:
        self._client = ses_client  # a callable: the client is made on first use
        self.sender = sender

    def send(self, message: EmailMessage) -> None:
        # Without Destinations, SES takes the recipients from the To header.
        self._client().send_raw_email(Source=self.sender, RawMessage={'Data': message.as_bytes()})


class MailDirSender:
    """Local stand-in for SES: each email becomes a file a mail client opens."""

    sender = LOCAL_SENDER

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def send(self, message: EmailMessage) -> None:
        name = f'{time.strftime("%Y%m%dT%H%M%S")}-{message["X-Order-Event-Id"]}'
        os.makedirs(self.directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix='.tmp')
        with os.fdopen(fd, 'wb') as handle:
            handle.write(message.as_bytes())
        os.replace(tmp, os.path.join(self.directory, f'{name}.eml'))
