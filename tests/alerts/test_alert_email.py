"""Email delivery for real: an aiosmtpd server on loopback, plain and STARTTLS with login."""

from __future__ import annotations

import email
import socket
import ssl
import subprocess
import threading
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from src.alerts.channels import ChannelConfigError, DeliveryError, EmailChannel, build_channels
from src.alerts.config import AlertsConfig, EmailChannelConfig

USER, PASSWORD = "alerts", "pw-s3cret"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []
        self.cond = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.cond:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
            self.cond.notify_all()
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (and the CA file that trusts it)."""
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(d / "key.pem"),
            "-out",
            str(d / "cert.pem"),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return d / "cert.pem", d / "key.pem"


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_plain():
    """An SMTP server on 127.0.0.1 without TLS or login."""
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, box
    finally:
        controller.stop()


@pytest.fixture
def smtp_tls(cert):
    """An SMTP server on 127.0.0.1 requiring STARTTLS and a login."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert)
    box = Mailbox()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield controller, box
    finally:
        controller.stop()


def test_plain_smtp_delivers_subject_body_and_headers(smtp_plain, note):
    """The message reaches the server with the headline as subject and the facts in the body."""
    controller, box = smtp_plain
    channel = EmailChannel(
        host="127.0.0.1",
        port=controller.port,
        sender="alerts@desk",
        recipients=("oncall@desk", "risk@desk"),
        dashboard_url="http://dash:8000",
    )
    assert channel.send(note(), timeout=10) == "accepted"
    sender, rcpts, msg = box.messages[0]
    assert sender == "alerts@desk" and rcpts == ["oncall@desk", "risk@desk"]
    assert msg["Subject"] == "[telemetry] CRITICAL FIRING: latency on s1 (order_to_fill)"
    assert msg["X-Alert-Key"] == "latency:s1:order_to_fill"
    body = msg.get_content()
    assert "p95 order->fill 12000.0 ms" in body
    assert "http://dash:8000/live/execution/s1" in body
    assert "telemetry-alerts ack latency:s1:order_to_fill" in body


def test_starttls_and_login_from_the_environment(smtp_tls, cert, note, monkeypatch):
    """Built from config: STARTTLS verified against ca_file, password read from its env var."""
    controller, box = smtp_tls
    config = AlertsConfig(
        channels=("email",),
        email=EmailChannelConfig(
            host="127.0.0.1",
            port=controller.port,
            starttls=True,
            ca_file=str(cert[0]),
            username=USER,
            password_env="TEST_SMTP_PW",
            recipients=("oncall@desk",),
        ),
    )
    channel = build_channels(config, {"TEST_SMTP_PW": PASSWORD})["email"]
    assert channel.send(note(event="resolved"), timeout=10) == "accepted"
    assert box.messages[0][2]["Subject"].startswith("[telemetry] CRITICAL RESOLVED")


def test_a_wrong_password_is_a_permanent_failure(smtp_tls, cert, note):
    """535 from the server: not retryable, and the password is not in the error."""
    controller, _ = smtp_tls
    channel = EmailChannel(
        host="127.0.0.1",
        port=controller.port,
        sender="a@desk",
        recipients=("b@desk",),
        starttls=True,
        username=USER,
        password="wrong-pw-123",
        tls_context=ssl.create_default_context(cafile=str(cert[0])),
    )
    with pytest.raises(DeliveryError) as info:
        channel.send(note(), timeout=10)
    assert info.value.retryable is False and info.value.status == 535
    assert "wrong-pw-123" not in str(info.value)


def test_without_starttls_a_server_requiring_it_refuses_permanently(smtp_tls, note):
    """The server demands STARTTLS (530): a configuration error, not retried."""
    controller, _ = smtp_tls
    channel = EmailChannel(
        host="127.0.0.1", port=controller.port, sender="a@desk", recipients=("b@desk",)
    )
    with pytest.raises(DeliveryError) as info:
        channel.send(note(), timeout=10)
    assert info.value.retryable is False


def test_unreachable_server_is_retryable(note):
    """Nothing listening: a retryable connection error."""
    channel = EmailChannel(host="127.0.0.1", port=free_port(), sender="a@x", recipients=("b@x",))
    with pytest.raises(DeliveryError) as info:
        channel.send(note(), timeout=5)
    assert info.value.retryable is True


def test_missing_password_or_recipients_fail_at_start_up():
    """A login without its password variable, or no recipients, is a config error."""
    with pytest.raises(ChannelConfigError, match=r"\$TEST_SMTP_PW is not set"):
        build_channels(
            AlertsConfig(
                channels=("email",),
                email=EmailChannelConfig(
                    username="u", password_env="TEST_SMTP_PW", recipients=("a@x",)
                ),
            ),
            {},
        )
    with pytest.raises(ChannelConfigError, match="at least one recipient"):
        build_channels(AlertsConfig(channels=("email",)), {})


def test_a_temporary_smtp_refusal_is_retried_by_the_worker(note, tmp_path):
    """451 on the first DATA, 250 on the second: delivered on attempt 2, both recorded."""
    from src.alerts.config import DeliveryConfig
    from src.alerts.delivery import Dispatcher
    from src.alerts.deliverylog import DeliveryLog, read_deliveries

    class Flaky(Mailbox):
        async def handle_DATA(self, server, session, envelope):
            if not getattr(self, "refused", False):
                self.refused = True
                return "451 4.3.0 try again later"
            return await super().handle_DATA(server, session, envelope)

    box = Flaky()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    done = threading.Event()
    record = DeliveryLog(tmp_path / "d.jsonl")
    channel = EmailChannel(
        host="127.0.0.1", port=controller.port, sender="a@desk", recipients=("b@desk",)
    )
    config = DeliveryConfig(max_attempts=3, backoff_initial_s=0.01, backoff_max_s=0.01)
    dispatcher = Dispatcher({"email": channel}, config, record, on_done=lambda i, o: done.set())
    try:
        dispatcher.submit({"id": "n-1/email", "channel": "email", "notification": note()})
        assert done.wait(30)
    finally:
        dispatcher.close()
        controller.stop()
    outcomes = [(r["outcome"], r["status"]) for r in read_deliveries(record.path)]
    assert outcomes == [("retry", 451), ("ok", None)]
    assert len(box.messages) == 1
