"""A real ``mosquitto`` broker for tests: plain, with a password file, with TLS, with an ACL.

Each :class:`Broker` writes its own config into a temporary directory and
listens on a free loopback port; :meth:`Broker.restart` brings it back on the
same port (the reconnect tests). ``mosquitto_pub`` / ``mosquitto_sub`` talk
to it the way a user's own tools would.

A test module makes its fixtures from :class:`Brokers`::

    @pytest.fixture
    def make_broker(tmp_path):
        with Brokers(tmp_path) as make:
            yield make

    def test_y(make_broker):
        b = make_broker(users={"bob": "s3cret"}, tls=True)
        b.publish("a/b", '{"x": 1}')
        b.certs.ca_path                     # the CA that signed the server certificate
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import IN_CI, free_port, require_binary

__all__ = ["Broker", "Brokers", "Certificates", "make_certificates", "wait_until"]


def wait_until(predicate, timeout: float = 10.0, step: float = 0.02) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it is true or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


# ------------------------------------------------------------------ certificates


@dataclass
class Certificates:
    """PEM files: a CA, a server certificate it signed (127.0.0.1, localhost),
    a client certificate it signed, and an unrelated CA (the wrong one)."""

    ca_path: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca_path: Path


def make_certificates(directory: Path) -> Certificates:
    """Generate the test PKI with ``cryptography`` (EC keys: fast)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def key():  # type: ignore[no-untyped-def]
        return ec.generate_private_key(ec.SECP256R1())

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def ca(cn: str):  # type: ignore[no-untyped-def]
        k = key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(name(cn))
            .public_key(k.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(k.public_key()), critical=False)
            .sign(k, hashes.SHA256())
        )
        return k, cert

    def leaf(ca_key, ca_cert, cn: str, server: bool):  # type: ignore[no-untyped-def]
        k = key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(ca_cert.subject)
            .public_key(k.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        return k, builder.sign(ca_key, hashes.SHA256())

    def write(path: Path, *objs) -> Path:  # type: ignore[no-untyped-def]
        data = b""
        for obj in objs:
            if hasattr(obj, "private_bytes"):
                data += obj.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.TraditionalOpenSSL,
                    serialization.NoEncryption(),
                )
            else:
                data += obj.public_bytes(serialization.Encoding.PEM)
        path.write_bytes(data)
        return path

    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = ca("presencectl test CA")
    server_key, server_cert = leaf(ca_key, ca_cert, "127.0.0.1", server=True)
    client_key, client_cert = leaf(ca_key, ca_cert, "presencectl test client", server=False)
    _other_key, other_cert = ca("some other CA")
    return Certificates(
        write(directory / "ca.pem", ca_cert),
        write(directory / "server.pem", server_cert),
        write(directory / "server.key", server_key),
        write(directory / "client.pem", client_cert),
        write(directory / "client.key", client_key),
        write(directory / "other-ca.pem", other_cert),
    )


# ------------------------------------------------------------------ the broker


@dataclass
class Broker:
    """One mosquitto process with a generated config.

    Args:
        directory: where the config, password file, certificates and log go.
        users: user name → password; anonymous clients are refused when given.
        tls: listen with TLS (certificates made in ``directory``).
        require_client_cert: with ``tls``, clients must present a certificate.
        acl: lines of an ACL file (``topic read a/#``); None: no ACL. mosquitto
            2.0 checks these when delivering, not on SUBSCRIBE.
        deny_subscribe: topic patterns whose subscription is refused in SUBACK
            (mosquitto's dynamic-security plugin, for anonymous clients).
        extra: more config lines (``max_queued_messages 0``).
    """

    directory: Path
    users: dict[str, str] | None = None
    tls: bool = False
    require_client_cert: bool = False
    acl: list[str] | None = None
    deny_subscribe: list[str] | None = None
    extra: list[str] = field(default_factory=list)
    port: int = 0
    certs: Certificates | None = None
    process: subprocess.Popen[bytes] | None = None
    _watchers: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.binary = _mosquitto()
        self.port = self.port or free_port()
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.tls:
            self.certs = make_certificates(self.directory / "pki")
        self.config = self.directory / "mosquitto.conf"
        self.log = self.directory / "mosquitto.log"
        self.config.write_text(self._config_text())

    def _config_text(self) -> str:
        lines = [
            "per_listener_settings false",
            f"listener {self.port} 127.0.0.1",
            "persistence false",
            f"log_dest file {self.log}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "log_type subscribe",
            "connection_messages true",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # Started as root, mosquitto becomes the "mosquitto" user, which
            # cannot read files in pytest's private temporary directories.
            lines.append("user root")
        if self.users is not None:
            require_binary("mosquitto_passwd")
            pwfile = self.directory / "passwd"
            pwfile.write_text("")
            for user, password in self.users.items():
                subprocess.run(
                    ["mosquitto_passwd", "-b", str(pwfile), user, password],
                    check=True, capture_output=True,
                )
            os.chmod(pwfile, 0o600)
            lines += ["allow_anonymous false", f"password_file {pwfile}"]
        else:
            lines.append("allow_anonymous true")
        if self.acl is not None:
            aclfile = self.directory / "acl"
            aclfile.write_text("\n".join(self.acl) + "\n")
            os.chmod(aclfile, 0o600)
            lines.append(f"acl_file {aclfile}")
        if self.deny_subscribe:
            plugin = _dynsec_plugin()
            config = self.directory / "dynsec.json"
            config.write_text(json.dumps({
                "defaultACLAccess": {
                    "publishClientSend": True, "publishClientReceive": True,
                    "subscribe": True, "unsubscribe": True,
                },
                "clients": [],
                "groups": [{"groupname": "anonymous", "roles": [{"rolename": "deny", "priority": 1}]}],
                "roles": [{
                    "rolename": "deny",
                    "acls": [
                        {"acltype": "subscribePattern", "topic": t, "priority": 0, "allow": False}
                        for t in self.deny_subscribe
                    ],
                }],
                "anonymousGroup": "anonymous",
            }))
            lines += [f"plugin {plugin}", f"plugin_opt_config_file {config}"]
        if self.tls:
            assert self.certs is not None
            lines += [
                f"cafile {self.certs.ca_path}",
                f"certfile {self.certs.server_cert}",
                f"keyfile {self.certs.server_key}",
            ]
            if self.require_client_cert:
                lines.append("require_certificate true")
        lines += self.extra
        return "\n".join(lines) + "\n"

    @property
    def url(self) -> str:
        """``mqtt://127.0.0.1:PORT`` (``mqtts://`` with TLS)."""
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def start(self) -> Broker:
        """Start mosquitto and wait until it accepts connections."""
        assert self.process is None or self.process.poll() is not None
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                pytest.fail(f"mosquitto exited at start ({self.process.returncode}): {err}{self.log_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        pytest.fail(f"mosquitto did not listen on port {self.port}: {self.log_text()}")

    def stop(self) -> None:
        """Stop mosquitto (SIGTERM, then SIGKILL) and wait for it."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if process.stderr is not None:
            process.stderr.close()

    def restart(self) -> None:
        """Stop, then start again on the same port."""
        self.stop()
        self.start()

    def log_text(self) -> str:
        """The broker's log so far (for failure messages)."""
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    # Talking to it with the mosquitto clients.

    def client_args(self, user: str | None = None, password: str | None = None) -> list[str]:
        """``-h -p`` (and TLS / credentials) for mosquitto_pub / mosquitto_sub."""
        args = ["-h", "127.0.0.1", "-p", str(self.port)]
        if self.tls:
            assert self.certs is not None
            args += ["--cafile", str(self.certs.ca_path)]
            if self.require_client_cert:
                args += ["--cert", str(self.certs.client_cert), "--key", str(self.certs.client_key)]
        if user is None and self.users:
            user, password = next(iter(self.users.items()))
        if user is not None:
            args += ["-u", user]
            if password is not None:
                args += ["-P", password]
        return args

    def publish(
        self,
        topic: str,
        payload: str | bytes,
        *,
        qos: int = 0,
        retain: bool = False,
        version: int = 311,
        user: str | None = None,
        password: str | None = None,
    ) -> None:
        """Publish one message with ``mosquitto_pub`` (payload bytes exact, through stdin)."""
        data = payload.encode() if isinstance(payload, str) else payload
        args = [require_binary("mosquitto_pub"), *self.client_args(user, password), "-t", topic,
                "-q", str(qos), "-V", str(version), "-s"]
        if retain:
            args.append("-r")
        result = subprocess.run(args, input=data, capture_output=True, timeout=15)
        assert result.returncode == 0, result.stderr.decode(errors="replace")

    def publish_many(self, topic: str, payloads: list[str], *, qos: int = 0) -> None:
        """Publish one message per payload line with one ``mosquitto_pub -l`` (no newlines inside)."""
        args = [require_binary("mosquitto_pub"), *self.client_args(), "-t", topic, "-q", str(qos), "-l"]
        data = "".join(p + "\n" for p in payloads).encode()
        result = subprocess.run(args, input=data, capture_output=True, timeout=30)
        assert result.returncode == 0, result.stderr.decode(errors="replace")

    def subscriber(self, topic: str, count: int, *extra: str, timeout: int = 15) -> subprocess.Popen[bytes]:
        """Start ``mosquitto_sub -v`` for ``count`` messages and wait until it
        has subscribed; read ``.communicate()`` later."""
        client_id = f"watch-{len(self._watchers)}-{os.getpid()}"
        self._watchers.append(client_id)
        args = [require_binary("mosquitto_sub"), *self.client_args(), "-t", topic, "-v", "-i", client_id,
                "-C", str(count), "-W", str(timeout), *extra]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = re.compile(rf"^\d+: {re.escape(client_id)} \d {re.escape(topic)}$", re.MULTILINE)
        if not wait_until(lambda: line.search(self.log_text()) is not None or proc.poll() is not None):
            pytest.fail(f"mosquitto_sub did not subscribe to {topic!r}: {self.log_text()}")
        return proc


def _dynsec_plugin() -> str:
    """mosquitto's dynamic-security plugin (in Debian's mosquitto package)."""
    import glob

    for path in glob.glob("/usr/lib/*/mosquitto_dynamic_security.so") + glob.glob("/usr/lib/mosquitto_dynamic_security.so"):
        return path
    message = "mosquitto_dynamic_security.so (package mosquitto) is not installed"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def _mosquitto() -> str:
    import shutil

    found = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
    if found is None:
        return require_binary("mosquitto")
    return found


class Brokers:
    """Starts brokers in a directory and stops them all at the end::

        with Brokers(tmp_path) as make:
            b = make(users={"bob": "s3cret"})
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.brokers: list[Broker] = []

    def __call__(self, **kwargs) -> Broker:  # type: ignore[no-untyped-def]
        b = Broker(self.directory / f"broker{len(self.brokers)}", **kwargs)
        self.brokers.append(b)
        return b.start()

    def __enter__(self) -> Brokers:
        return self

    def __exit__(self, *exc: object) -> None:
        for b in self.brokers:
            b.stop()
