"""Text-to-speech with gTTS (R12) against a local stand-in for Google, the
internet edge: an HTTPS proxy on loopback that terminates the TLS gTTS opens to
translate.google.com and answers as Google's batchexecute endpoint does, with
an MP3 of a known tone. gTTS finds it through HTTPS_PROXY, as it would find a
site's real proxy; its certificate is trusted through REQUESTS_CA_BUNDLE, as a
site's own proxy CA would be (vpbx verifies certificates although gTTS asks
requests not to)."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import ssl
import subprocess
import threading
import urllib.parse
import wave

import pytest

from vpbx.media.prompts import PromptLibrary

from ..e2e.wav import dominant_frequency

TONE_HZ = 700


class FakeGoogle:
    def __init__(self, workdir):
        self.mp3 = workdir / "voice.mp3"
        subprocess.run(
            ["sox", "-n", "-r", "22050", "-c", "1", str(self.mp3), "synth", "1.2", "sine", str(TONE_HZ)], check=True
        )
        cert, key = workdir / "cert.pem", workdir / "key.pem"
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=translate.google.com",
                "-addext",
                "subjectAltName=DNS:translate.google.com",
                "-keyout",
                str(key),
                "-out",
                str(cert),
            ],
            check=True,
            capture_output=True,
        )
        self.cert = cert
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(cert, key)
        self.status = 200
        self.refused_handshakes = 0
        self.requests: list[tuple[str, str, str]] = []  # (CONNECT target, path, form body)
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(conn,), daemon=True).start()

    def _tunnel(self, conn: socket.socket) -> None:
        with conn:
            head = _read_head(conn)
            target = head.split(b" ")[1].decode()
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            try:
                tls = self.tls.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                self.refused_handshakes += 1  # the client did not trust our certificate
                return
            with tls:
                head, body = _read_request(tls)
                path = head.split(b" ")[1].decode()
                self.requests.append((target, path, urllib.parse.unquote_plus(body.decode())))
                if self.status != 200:
                    tls.sendall(f"HTTP/1.1 {self.status} Unavailable\r\nContent-Length: 0\r\n\r\n".encode())
                    return
                audio = base64.b64encode(self.mp3.read_bytes()).decode()
                line = json.dumps(
                    [["wrb.fr", "jQ1olc", json.dumps([audio]), None, None, None, "generic"]], separators=(",", ":")
                )
                payload = (")]}'\n\n" + line + "\n").encode()
                tls.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(payload)).encode()
                    + b"\r\nConnection: close\r\n\r\n"
                    + payload
                )

    def close(self) -> None:
        self.server.close()


def _read_head(sock) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _read_request(sock) -> tuple[bytes, bytes]:
    data = _read_head(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    while len(body) < length:
        body += sock.recv(4096)
    return head, body


@pytest.fixture
def untrusted_google(tmp_path, monkeypatch):
    """The stand-in, reached through the proxy setting, its certificate trusted by nobody."""
    fake = FakeGoogle(tmp_path)
    monkeypatch.setenv("HTTPS_PROXY", fake.url)
    monkeypatch.setenv("https_proxy", fake.url)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    yield fake
    fake.close()


@pytest.fixture
def google(untrusted_google, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(untrusted_google.cert))
    return untrusted_google


def _pcm(path) -> tuple[tuple[int, int, int], bytes]:
    with wave.open(str(path)) as audio:
        return (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()), audio.readframes(audio.getnframes())


def test_gtts_reads_the_text_through_google_once_and_the_prompt_is_its_voice(tmp_path, google):
    library = PromptLibrary(tmp_path / "prompts", engine="gtts")

    path = asyncio.run(library.speech("Здравствуйте, вы позвонили в компанию", "ru"))
    again = asyncio.run(library.speech("Здравствуйте, вы позвонили в компанию", "ru"))

    shape, frames = _pcm(path)
    assert shape == (8000, 1, 2)
    assert abs(dominant_frequency(frames[1600:8000]) - TONE_HZ) < 15  # Google's audio, not espeak-ng's
    assert again == path and len(google.requests) == 1  # rendered once
    target, url_path, form = google.requests[0]
    assert target == "translate.google.com:443" and url_path.startswith("/_/TranslateWebserverUi/data/batchexecute")
    rpc = json.loads(form.removeprefix("f.req=").rstrip("&"))
    assert json.loads(rpc[0][0][1])[:2] == ["Здравствуйте, вы позвонили в компанию", "ru"]
    assert library.failures == []


def test_when_google_fails_espeak_reads_the_text_and_the_failure_is_kept(tmp_path, google):
    google.status = 503
    library = PromptLibrary(tmp_path / "prompts", engine="gtts")

    path = asyncio.run(library.speech("Оставьте сообщение", "ru"))

    shape, frames = _pcm(path)
    assert shape == (8000, 1, 2) and len(frames) > 8000  # espeak-ng's reading: never silence
    assert abs(dominant_frequency(frames) - TONE_HZ) > 50
    assert len(library.failures) == 1 and library.failures[0].startswith("ru: gTTS")
    assert len(google.requests) >= 1


def test_gtts_verifies_the_certificate_and_a_man_in_the_middle_gets_nothing(tmp_path, untrusted_google):
    library = PromptLibrary(tmp_path / "prompts", engine="gtts")

    path = asyncio.run(library.speech("Оставьте сообщение", "ru"))

    assert untrusted_google.requests == [] and untrusted_google.refused_handshakes >= 1
    shape, frames = _pcm(path)
    assert shape == (8000, 1, 2) and abs(dominant_frequency(frames) - TONE_HZ) > 50  # espeak-ng read it
    assert len(library.failures) == 1 and library.failures[0].startswith("ru: gTTS")
