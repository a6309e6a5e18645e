"""feeds.yaml loading and validation (pipeline/config.py, pipeline/yamlfile.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import FeedsConfig, load_feeds
from pipeline.errors import ConfigError
from pipeline.yamlfile import read_yaml

ROOT = Path(__file__).resolve().parents[1]

# A small valid file. Tests replace one line to break it and look up the line number of the
# marked line, so the expected numbers follow the text.
VALID = """\
outlets:
  - id: alpha-news
    name: Alpha News
    language: en
    reach: 4
    sources:
      - url: https://alpha.example/feed.xml
        interval_minutes: 20
  - id: beta-journal
    name: Beta Journal
    language: fr
    sources:
      - url: https://beta.example/rss
        section: monde
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _line_of(text: str, needle: str) -> int:
    """1-based number of the only line containing *needle*."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) == 1, f"{needle!r} must appear on exactly one line"
    return hits[0]


def _error(tmp_path: Path, text: str) -> tuple[Path, str]:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_feeds(path)
    return path, str(info.value)


# ------------------------------------------------------------------ the real feeds.yaml


@pytest.fixture(scope="module")
def real_feeds() -> FeedsConfig:
    return load_feeds(ROOT / "feeds.yaml")


def test_real_feeds_file_has_sixteen_outlets(real_feeds: FeedsConfig) -> None:
    assert len(real_feeds.outlets) == 16
    assert len({o.id for o in real_feeds.outlets}) == 16


@pytest.mark.parametrize("outlet_id", ["cbc-news", "radio-canada"])
def test_real_public_broadcasters_are_disabled_with_reasons(real_feeds: FeedsConfig, outlet_id: str) -> None:
    outlet = real_feeds.outlet(outlet_id)
    assert outlet.enabled is False
    assert outlet.disabled_reason and outlet.disabled_reason.strip()
    assert outlet.sources, "the disabled outlet still lists its feeds"
    for source in outlet.sources:
        assert source.enabled is False, source.url
        assert source.disabled_reason and source.disabled_reason.strip(), source.url


def test_real_enabled_outlets_have_a_language_and_enabled_feeds(real_feeds: FeedsConfig) -> None:
    enabled = [o for o in real_feeds.outlets if o.enabled]
    assert len(enabled) == 14
    assert {o.language for o in enabled} == {"en", "fr"}
    for outlet in enabled:
        assert outlet.language in ("en", "fr"), outlet.id
        assert any(s.enabled for s in outlet.sources), outlet.id


def test_real_feed_urls_are_http_and_unique(real_feeds: FeedsConfig) -> None:
    urls = [s.url for o in real_feeds.outlets for s in o.sources]
    assert all(u.startswith(("http://", "https://")) for u in urls)
    assert len(urls) == len(set(urls))


def test_unknown_outlet_lookup_lists_known_ids(real_feeds: FeedsConfig) -> None:
    with pytest.raises(ConfigError, match=r"unknown outlet 'no-such-paper'.*globe-and-mail"):
        real_feeds.outlet("no-such-paper")


# ------------------------------------------------------------------ small valid files


def test_valid_file_loads_with_defaults(tmp_path: Path) -> None:
    feeds = load_feeds(_write(tmp_path, VALID))
    assert [o.id for o in feeds.outlets] == ["alpha-news", "beta-journal"]
    beta = feeds.outlet("beta-journal")
    assert beta.language == "fr"
    assert beta.reach == 3  # default
    assert beta.sources[0].interval_minutes == 30  # default
    assert beta.sources[0].type == "feed"
    assert feeds.outlet("alpha-news").sources[0].interval_minutes == 20


def test_base_placeholder_is_replaced_by_base_url(tmp_path: Path) -> None:
    text = VALID.replace("https://beta.example/rss", "'{base}/beta/rss'")
    feeds = load_feeds(_write(tmp_path, text), base_url="http://127.0.0.1:8765/")
    assert feeds.outlet("beta-journal").sources[0].url == "http://127.0.0.1:8765/beta/rss"
    assert feeds.outlet("alpha-news").sources[0].url == "https://alpha.example/feed.xml"


def test_base_placeholder_without_base_url_is_not_an_http_url(tmp_path: Path) -> None:
    text = VALID.replace("https://beta.example/rss", "'{base}/beta/rss'")
    _path, message = _error(tmp_path, text)
    assert "must be an http(s) URL" in message
    assert "beta-journal" in message


# ------------------------------------------------------------------ errors name file, line, outlet, field


def test_unknown_key_names_file_line_outlet_and_key(tmp_path: Path) -> None:
    text = VALID.replace("    name: Beta Journal\n", "    name: Beta Journal\n    colour: blue\n")
    path, message = _error(tmp_path, text)
    assert message.startswith(f"{path}:{_line_of(text, 'colour: blue')}:")
    assert "beta-journal" in message
    assert "colour" in message


def test_wrong_type_names_interval_minutes_and_its_line(tmp_path: Path) -> None:
    text = VALID.replace("interval_minutes: 20", "interval_minutes: often")
    path, message = _error(tmp_path, text)
    assert message.startswith(f"{path}:{_line_of(text, 'often')}:")
    assert "alpha-news" in message
    assert "interval_minutes" in message


def test_disabled_source_without_reason_is_refused(tmp_path: Path) -> None:
    text = VALID.replace("        section: monde\n", "        section: monde\n        enabled: false\n")
    path, message = _error(tmp_path, text)
    assert message.startswith(f"{path}:{_line_of(text, 'https://beta.example/rss')}:")
    assert "beta-journal" in message
    assert "sources[0]" in message
    assert "disabled_reason" in message


def test_disabled_source_with_reason_loads(tmp_path: Path) -> None:
    text = VALID.replace(
        "        section: monde\n",
        "        section: monde\n        enabled: false\n        disabled_reason: answers 403\n",
    )
    source = load_feeds(_write(tmp_path, text)).outlet("beta-journal").sources[0]
    assert source.enabled is False
    assert source.disabled_reason == "answers 403"


def test_disabled_outlet_without_reason_is_refused(tmp_path: Path) -> None:
    text = VALID.replace("    reach: 4\n", "    reach: 4\n    enabled: false\n")
    path, message = _error(tmp_path, text)
    assert message.startswith(f"{path}:{_line_of(text, 'id: alpha-news')}:")
    assert "alpha-news" in message
    assert "disabled_reason" in message


def test_duplicate_outlet_id_is_refused_at_the_second_entry(tmp_path: Path) -> None:
    text = VALID.replace("id: beta-journal", "id: alpha-news")
    path, message = _error(tmp_path, text)
    second = [i for i, line in enumerate(text.splitlines(), 1) if "id: alpha-news" in line][1]
    assert message.startswith(f"{path}:{second}:")
    assert "'alpha-news' appears twice" in message
    assert "id" in message.split("field", 1)[1]


def test_duplicate_source_url_is_refused(tmp_path: Path) -> None:
    text = VALID.replace("https://beta.example/rss", "https://alpha.example/feed.xml")
    _path, message = _error(tmp_path, text)
    assert "https://alpha.example/feed.xml appears twice" in message


def test_invalid_yaml_syntax_names_the_line(tmp_path: Path) -> None:
    # a key indented under a scalar: "mapping values are not allowed here"
    text = VALID.replace("    name: Beta Journal\n", "    name: Beta Journal\n      extra: oops\n")
    path, message = _error(tmp_path, text)
    assert message.startswith(f"{path}:{_line_of(text, 'extra: oops')}:")
    assert "invalid YAML" in message


@pytest.mark.parametrize(
    ("before", "after", "must_name"),
    [
        ("language: fr", "language: de", ["beta-journal", "language"]),
        ("https://beta.example/rss", "ftp://beta.example/rss", ["beta-journal", "sources[0].url"]),
        ("id: beta-journal", "id: Beta Journal", ["slug"]),
        ("reach: 4", "reach: 9", ["reach"]),
    ],
    ids=["language", "non-http-url", "id-not-a-slug", "reach-out-of-range"],
)
def test_bad_field_error_names_its_line_outlet_and_field(
    tmp_path: Path, before: str, after: str, must_name: list[str]
) -> None:
    text = VALID.replace(before, after)
    assert text != VALID
    path, message = _error(tmp_path, text)
    assert message.startswith(f"{path}:{_line_of(text, after)}:")
    for needle in must_name:
        assert needle in message


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "feeds.yaml"
    with pytest.raises(ConfigError, match="cannot read") as info:
        load_feeds(path)
    assert str(path) in str(info.value)


def test_non_utf8_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_bytes(VALID.replace("Beta Journal", "Journal de l'Été").encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8") as info:
        load_feeds(path)
    assert str(path) in str(info.value)


def test_empty_file_reports_missing_outlets(tmp_path: Path) -> None:
    path, message = _error(tmp_path, "# nothing here\n")
    assert message.startswith(f"{path}:")
    assert "outlets" in message


def test_read_yaml_maps_keys_to_line_numbers(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID)
    data, lines = read_yaml(path)
    assert data["outlets"][1]["id"] == "beta-journal"
    assert lines[("outlets", 1, "language")] == _line_of(VALID, "language: fr")
    assert lines[("outlets", 0, "sources", 0, "interval_minutes")] == _line_of(VALID, "interval_minutes")
