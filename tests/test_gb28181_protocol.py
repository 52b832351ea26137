"""GB/T 28181 protocol logic without sockets: SIP parsing and framing, digest, MANSCDP."""

from __future__ import annotations

import hashlib

import pytest

from core import digest
from gb28181 import manscdp, sip

REGISTER = (
    b"REGISTER sip:34020000002000000001@3402000000 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5070;rport;branch=z9hG4bK1\r\n"
    b"f: <sip:34020000001320000001@3402000000>;tag=abc\r\n"
    b"To: <sip:34020000001320000001@3402000000>\r\n"
    b"Call-ID: 1@x\r\nCSeq: 1 REGISTER\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n"
)


def test_parse_register_with_compact_headers() -> None:
    msg = sip.parse(REGISTER)
    assert msg.method == "REGISTER"
    assert msg.user_of("from") == "34020000001320000001"
    assert msg.tag_of("from") == "abc"
    assert msg.cseq == (1, "REGISTER")
    assert sip.expires_of(msg) == 3600
    reply = sip.parse(sip.response(msg, 200, "OK").encode())
    assert reply.status == 200 and reply.tag_of("to") and reply.call_id == "1@x"


@pytest.mark.parametrize("data, why", [
    (b"", "empty"),
    (b"HELLO\r\n\r\n", "not a SIP start line"),
    (b"REGISTER sip:x SIP/2.0\r\nVia: a\r\n\r\n", "missing"),
    (REGISTER.replace(b"Content-Length: 0", b"Content-Length: 99"), "shorter"),
    (REGISTER.replace(b"Content-Length: 0", b"Content-Length: -1"), "Content-Length"),
    (b"REGISTER sip:x SIP/2.0\r\n" + b"X: y\r\n" * 100 + b"\r\n", "too many headers"),
    (b"A" * (sip.MAX_MESSAGE + 1), "exceeds"),
])
def test_malformed_sip_is_refused_with_a_reason(data: bytes, why: str) -> None:
    with pytest.raises(sip.SipError, match=why):
        sip.parse(data)


def test_tcp_framer_cuts_by_content_length_across_reads() -> None:
    body = b"<x/>"
    one = REGISTER.replace(b"Content-Length: 0", b"Content-Length: 4") + body
    stream = b"\r\n\r\n" + one + one
    framer = sip.TcpFramer()
    frames = []
    for i in range(0, len(stream), 7):
        frames += framer.feed(stream[i:i + 7])
    assert frames == [one, one]
    assert sip.parse(frames[0]).body == body


def test_digest_rfc2617_example_and_sha256() -> None:
    # RFC 2617 section 3.5 (qop=auth) example.
    header = ('Digest username="Mufasa", realm="testrealm@host.com", '
              'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, '
              'nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1"')
    assert digest.verify(header, "GET", "Circle Of Life")
    assert not digest.verify(header, "GET", "wrong")
    challenge = digest.challenge("3402000000", "n1", "SHA-256")
    auth = digest.authorization(challenge, "REGISTER", "sip:a@b", "34020000001320000001", "pw")
    assert "SHA-256" in auth and digest.verify(auth, "REGISTER", "pw")
    p = digest.params(auth)
    assert len(p["response"]) == len(hashlib.sha256().hexdigest())


def test_nonce_is_signed_and_ages() -> None:
    secret = b"k" * 32
    nonce = digest.make_nonce(secret, now=1000)
    assert digest.nonce_fresh(secret, nonce, 60, now=1030)
    assert not digest.nonce_fresh(secret, nonce, 60, now=1100)
    assert not digest.nonce_fresh(b"x" * 32, nonce, 60, now=1030)
    assert not digest.nonce_fresh(secret, "garbage", 60)


def test_catalog_pages_round_trip_in_gb2312() -> None:
    items = [manscdp.CatalogItem(id=f"3402000000131000000{i}", name=f"东门{i}", status="ON",
                                 lat=30.6 + i / 100, lon=104.0) for i in range(1, 6)]
    pages = manscdp.catalog_pages(7, "34020000001320000001", items, per_page=2)
    assert len(pages) == 3
    got = []
    for page in pages:
        doc = manscdp.read(page)
        total, part = manscdp.catalog(doc)
        assert (doc.cmd, doc.sn, total) == ("Catalog", 7, 5)
        got += part
    assert [g.name for g in got] == [i.name for i in items]


def test_gb18030_characters_under_gb2312_label_and_bare_ampersand() -> None:
    # 𠀀 (U+20000) and 镕 exist only in GB18030/GBK; a device labels them GB2312.
    name = "路口𠀀镕 A&B"
    body = ('<?xml version="1.0" encoding="GB2312"?><Response><CmdType>Catalog</CmdType>'
            "<SN>1</SN><DeviceID>34020000001320000001</DeviceID><SumNum>1</SumNum>"
            '<DeviceList Num="1"><Item><DeviceID>34020000001310000001</DeviceID>'
            f"<Name>{name}</Name><Status>ON</Status></Item></DeviceList></Response>"
            ).encode("gb18030")
    _total, items = manscdp.catalog(manscdp.read(body))
    assert items[0].name == name


@pytest.mark.parametrize("body, why", [
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><Notify><x>&a;</x></Notify>',
     "forbidden"),
    (b"<Notify><CmdType>Keepalive</CmdType><SN>1</SN>", "malformed"),
    (b"<Notify>" + b"x" * (manscdp.MAX_BODY + 1) + b"</Notify>", "exceeds"),
    (b"<Notify><CmdType>Keepalive</CmdType><SN>x</SN><DeviceID>1</DeviceID></Notify>", "SN"),
    (b'<?xml version="1.0" encoding="EBCDIC"?><Notify/>', "encoding"),
])
def test_hostile_bodies_are_refused(body: bytes, why: str) -> None:
    with pytest.raises(manscdp.BodyError, match=why):
        manscdp.read(body)
