"""Browser tests: Debian's Chromium, driven by Playwright, against a real server (uvicorn on 127.0.0.1).

A responder signs in through the login form, claims an alert from the queue, writes a letter that
starts over the outlet's word limit and edits it down (the live count follows the typing), saves it,
checks the mailto link, marks it sent and records an outcome, in English and in French. An analyst
approves a new alert from the triage queue. The session cookie keeps its ``Secure`` flag (Chromium
accepts Secure cookies on http://127.0.0.1). No console error (CSP violations included), no page
error and no 5xx answer is allowed on any page.

Screenshots of each main step (1280x900, and 390x844 for the queue, the alert page and the letter
editor) are saved under ``test-artifacts/screenshots/`` (git-ignored) to be looked at.
"""

from __future__ import annotations

import itertools
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

if not Path("/usr/bin/chromium").exists():
    pytest.skip("Debian's Chromium (/usr/bin/chromium) is not installed", allow_module_level=True)

from browser_server import LiveServer
from playwright.sync_api import Browser, BrowserContext, Page, Response, ViewportSize, expect, sync_playwright

from pipeline.letters import count_words
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.web import create_app
from pipeline.web.auth import SESSION_COOKIE, hash_password

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-artifacts" / "screenshots"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
PASSWORD = "correct horse battery staple"
STORIES = itertools.count(1)

EN_TEXT = (
    "Five Palestinians died in Gaza on Tuesday after an air strike hit a crowded market. "
    "The figures could not be verified. Witnesses described scenes of chaos as rescuers searched "
    "the rubble for survivors late into the night."
)
EN_PADDING = (
    "I would also like to add a great many further remarks, because this matters to me and to my "
    "neighbours, who read your paper every morning over breakfast and talk about it at work. "
) * 4
EN_MINE = (
    "Dear editor,\n\n"
    "Tuesday's report on the Gaza market left out the most important fact: who fired. Readers "
    "learn that five people died, as if the deaths simply happened, yet an air strike does not "
    "launch itself. Naming the army that carried it out is basic accuracy, and your own standards "
    "promise it.\n\n"
    "Please run a clarification that names the party responsible, and fix the headline so it "
    "says what happened instead of hiding the actor.\n\n"
    "Thank you,\nRobin Tremblay, Winnipeg, 204-555-0100"
)

FR_TEXT = (
    "Cinq Palestiniens sont morts à Gaza mardi après une frappe aérienne sur un marché bondé. "
    "Les chiffres n'ont pas pu être vérifiés. Des témoins ont décrit des scènes de chaos pendant "
    "que les secouristes fouillaient les décombres."
)
FR_PADDING = (
    "J'aimerais ajouter encore beaucoup de remarques, parce que ce sujet compte pour moi et pour "
    "mes voisins, qui lisent votre journal chaque matin au déjeuner et en discutent au travail. "
) * 5
FR_MINE = (
    "Madame, Monsieur,\n\n"
    "Votre texte de mardi sur le marché de Gaza passe sous silence l'essentiel : qui a tiré. "
    "On apprend que cinq personnes ont perdu la vie, comme si ces décès étaient arrivés tout "
    "seuls, alors qu'une frappe aérienne a toujours un auteur. Nommer l'armée responsable relève "
    "de l'exactitude la plus élémentaire, que votre rédaction s'engage à respecter.\n\n"
    "Je vous prie de publier une précision qui désigne clairement le responsable et de corriger "
    "le titre.\n\n"
    "Salutations,\nCamille Gagnon, Trois-Rivières, 819-555-0199"
)


# ---------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def live(settings: Settings, store: Store) -> Iterator[str]:
    """The app over this test's own SQLite file, served by uvicorn; Secure cookies kept on."""
    assert settings.cookie_secure
    with LiveServer(create_app(settings, store)) as server:
        yield server.url


@dataclass
class Watch:
    """What went wrong in the browser: console errors, uncaught page errors, 5xx answers."""

    problems: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> Page:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("response", self._response)
        return page

    def _response(self, response: Response) -> None:
        if response.status >= 500:
            self.problems.append(f"{response.status} from {response.request.method} {response.url}")

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        where = (message.location or {}).get("url", "")
        # Chromium asks for /favicon.ico on its own, at a moment of its choosing (not every run);
        # the app serves none. Everything else the page logs as an error is a failure.
        if where.endswith("/favicon.ico"):
            return
        self.problems.append(f"console: {message.text} ({where})")


@dataclass
class Session:
    """A desktop browser context for one user, with a phone twin for screenshots."""

    base: str
    context: BrowserContext
    page: Page
    watch: Watch
    prefix: str
    browser: Browser
    step: int = 0
    saved: list[Path] = field(default_factory=list)

    def go(self, path: str) -> None:
        response = self.page.goto(self.base + path)
        assert response is not None and response.status < 400, (path, response and response.status)

    def shot(self, name: str, phone: bool = False) -> None:
        """Full-page screenshot of the current page; with *phone*, also at 390x844, same session."""
        self.step += 1
        path = SHOTS / f"{self.prefix}-{self.step:02d}-{name}-desktop.png"
        self.page.evaluate("window.scrollTo(0, 0)")  # sticky columns drawn where they belong
        self.page.screenshot(path=str(path), full_page=True)
        self.saved.append(path)
        if phone:
            self.phone(name)

    def phone(self, name: str) -> None:
        ctx = self.browser.new_context(
            viewport=PHONE,
            is_mobile=True,
            has_touch=True,
            storage_state=self.context.storage_state(),
        )
        try:
            page = self.watch.attach(ctx.new_page())
            response = page.goto(self.page.url)
            assert response is not None and response.status < 400
            page.wait_for_load_state("load")
            # works on a phone: nothing wider than the screen (no sideways scrolling)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            wide = page.evaluate(
                """() => [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                    .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)"""
            )
            assert overflow <= 0, f"{name} is {overflow}px wider than a 390px phone screen: {wide}"
            path = SHOTS / f"{self.prefix}-{self.step:02d}-{name}-phone.png"
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(path), full_page=True)
            self.saved.append(path)
        finally:
            ctx.close()


@pytest.fixture
def browse(browser: Browser, live: str) -> Iterator[Callable[[str], Session]]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    sessions: list[Session] = []

    def open_session(prefix: str) -> Session:
        for old in SHOTS.glob(f"{prefix}-[0-9][0-9]-*.png"):
            old.unlink()
        context = browser.new_context(viewport=DESKTOP)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live)  # copy buttons
        context.set_default_timeout(10_000)
        watch = Watch()
        session = Session(live, context, watch.attach(context.new_page()), watch, prefix, browser)
        sessions.append(session)
        return session

    yield open_session
    for s in sessions:
        s.context.close()
    for s in sessions:
        assert s.watch.problems == [], s.watch.problems
        for path in s.saved:
            assert_png(path, PHONE["width"] if path.stem.endswith("-phone") else DESKTOP["width"])


def assert_png(path: Path, width: int) -> None:
    """A real screenshot: a PNG of the viewport's width, at least a screen high, not blank."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    w, h = struct.unpack(">II", data[16:24])
    assert w == width and h >= 800, (path, w, h)
    assert len(data) > 15_000, f"{path} is suspiciously small ({len(data)} bytes)"


def person(store: Store, email: str, role: str = "responder", language: str = "en", name: str = "") -> str:
    store.create_user(
        email, role, hash_password(PASSWORD), name=name or email.split("@")[0], language=language
    )
    return email


def sign_in(s: Session, email: str, start: str = "/alerts") -> None:
    """Through the real login form, after the redirect an anonymous visitor gets."""
    s.go(start)
    expect(s.page).to_have_url(f"{s.base}/login?next={start}")
    s.page.get_by_label("Email").fill(email)
    s.page.get_by_label("Password").fill(PASSWORD)
    s.shot("login")
    s.page.get_by_role("button", name="Sign in").click()
    expect(s.page).to_have_url(s.base + start)
    cookie = next(c for c in s.context.cookies() if c["name"] == SESSION_COOKIE)
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Lax", cookie


def fill_letter(page: Page, text: str) -> None:
    page.locator("#letter-body").fill(text)


def expect_count(page: Page, words: int, over: bool) -> None:
    """The live count (letter.js at once, then the server's check swapped in by htmx)."""
    expect(page.locator("#word-count")).to_have_text(str(words))
    line = page.locator("#letter-check .lc-words")
    if over:
        expect(line).to_have_class(re.compile(r"\blc-over\b"))
    else:
        expect(line).not_to_have_class(re.compile(r"\blc-over\b"))


def mailto_parts(href: str) -> tuple[str, str, str]:
    parts = urlsplit(href)
    assert parts.scheme == "mailto", href
    query = parse_qs(parts.query)
    return unquote(parts.path), query["subject"][0], query["body"][0]


def new_alert(
    settings: Settings,
    store: Store,
    title: str,
    text: str,
    outlet: str = "maple-ledger",
    language: str = "en",
) -> int:
    """An alert as the pipeline makes it, its letter drafted with the outlet's real settings from
    the demo feeds (name, letters desk, word limit), published yesterday."""
    from pipeline.alert import ArticleInfo, draft_alert
    from pipeline.config import load_feeds
    from pipeline.demo import DEMO_FEEDS
    from pipeline.letters import LetterTemplates, load_talking_points
    from pipeline.records import Evidence, Extracted, Score

    store.sync_outlets(load_feeds(DEMO_FEEDS, "http://127.0.0.1:1"))
    published = datetime.now(UTC) - timedelta(days=1)
    url = f"http://127.0.0.1:1/{outlet}/story-{next(STORIES)}"
    article_id = store.save_article(
        outlet, url, Extracted(url, title, text, language=language), "", published, None
    )
    quote = text.split(".")[0]
    evidence = Evidence("agentless_casualties", quote, 0, len(quote), "rule:x")
    score = Score(
        str(article_id), True, 0.9, {"agentless_casualties": 0.9}, True, "complaint", 0.9, [evidence]
    )
    score_id = store.save_score(article_id, score)
    conf = {"name": dict(store.outlet_names())[outlet], **store.outlet_config(outlet)}
    draft = draft_alert(
        score,
        ArticleInfo(title, text, url, published, language),
        conf,
        LetterTemplates(settings.alerts_dir / "templates"),
        load_talking_points(settings.alerts_dir / "talking_points.yaml"),
    )
    assert draft is not None
    alert_id = store.create_alert(article_id, score_id, draft, 3)
    assert alert_id is not None
    return alert_id


def opened_alert(settings: Settings, store: Store, title: str, text: str, **kw: str) -> int:
    alert_id = new_alert(settings, store, title, text, **kw)
    store.approve(alert_id, "ana@example.org")
    return alert_id


# ---------------------------------------------------------------------- English


def test_responder_writes_and_sends_a_letter_in_english(
    browse: Callable[[str], Session], settings: Settings, store: Store
) -> None:
    title = "Five dead in Gaza strike"
    alert_id = opened_alert(settings, store, title, EN_TEXT)
    email = person(store, "robin@example.org", name="Robin Tremblay")
    s = browse("en")
    page = s.page

    # sign in, the queue
    sign_in(s, email)
    nav = page.locator("header nav")
    expect(nav.get_by_role("link", name="My claims")).to_be_visible()
    expect(nav.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.locator("h1")).to_have_text("Alert queue")
    card = page.locator(".alert-card", has_text=title)
    expect(card).to_contain_text("The Maple Ledger")
    s.shot("queue", phone=True)

    # the alert page; claim it (htmx swaps the panel in place)
    card.get_by_role("link").click()
    expect(page).to_have_url(f"{s.base}/alerts/{alert_id}")
    expect(page.locator("h1")).to_have_text(title)
    panel = page.locator("#responder-panel")
    expect(panel).to_contain_text("0 of 3 letters taken")
    s.shot("alert", phone=True)
    panel.get_by_role("button", name="Claim this alert").click()
    expect(panel).to_contain_text("You claimed this alert. Write your letter in your own words.")
    expect(panel).to_contain_text("1 of 3 letters taken")
    expect(panel).to_contain_text("Robin Tremblay · writing")
    expect(page).to_have_url(f"{s.base}/alerts/{alert_id}")  # swapped in place, no reload
    s.shot("claimed")

    # the letter editor: the suggested draft, under the limit, too close to be sent as is
    panel.get_by_role("link", name="Write your letter").click()
    expect(page).to_have_url(f"{s.base}/alerts/{alert_id}/letter")
    editor = page.locator("#letter-body")
    draft = editor.input_value()
    assert draft.startswith("To the editor,") and title in draft
    expect(page.locator("#word-limit")).to_have_text("150")
    expect(page.locator(".lp-rules")).to_contain_text("Exclusive: send this letter to The Maple Ledger only")
    expect(page.locator(".lp-points")).to_contain_text("Source:")
    expect(page.locator("#letter-check")).to_contain_text("Still too close")
    s.shot("editor-draft", phone=True)

    # over the limit: the count and the warning follow the typing
    long_letter = draft + "\n\n" + EN_PADDING
    fill_letter(page, long_letter)
    over = count_words(long_letter)
    assert over > 150
    expect_count(page, over, over=True)
    expect(page.locator("#letter-check")).to_contain_text(
        f"{over - 150} words over the limit: the outlet may cut or refuse your letter."
    )
    editor.press("Control+End")
    editor.press_sequentially(" Truly yours")
    expect_count(page, over + 2, over=True)
    expect(page.locator("#letter-check")).to_contain_text(f"{over + 2 - 150} words over the limit")
    s.shot("editor-over-limit")

    # edited down, in own words: both warnings go away
    fill_letter(page, EN_MINE)
    mine = count_words(EN_MINE)
    assert 8 < mine <= 150
    expect_count(page, mine, over=False)
    check = page.locator("#letter-check")
    expect(check).to_contain_text("Your wording is your own.")
    expect(check).not_to_contain_text("over the limit")
    expect(check).not_to_contain_text("Still too close")
    subject = "The Gaza market report leaves out who fired"
    page.get_by_label("Subject").fill(subject)
    s.shot("editor-fits")

    # save: the mailto link carries the saved letter
    page.get_by_role("button", name="Save my letter").click()
    expect(page).to_have_url(f"{s.base}/alerts/{alert_id}/letter?saved=1#send")
    expect(page.get_by_text("Your letter is saved.")).to_be_visible()
    ready = page.locator("#send-ready")
    expect(ready).to_contain_text("letters@mapleledger.example")
    expect(ready.locator(".rp-stale")).to_be_hidden()
    link = ready.get_by_role("link", name="Open in my mail app")
    to, mail_subject, mail_body = mailto_parts(link.get_attribute("href") or "")
    assert (to, mail_subject, mail_body) == ("letters@mapleledger.example", subject, EN_MINE)
    expect(ready.get_by_role("button", name="Copy the letter")).to_be_visible()
    copy = ready.locator("button[data-copy=saved-letter]")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == EN_MINE
    editor.press("Control+End")
    editor.press_sequentially(" PS")
    expect(ready.locator(".rp-stale")).to_be_visible()  # changed since saved: save again
    s.shot("saved")
    s.go(f"/alerts/{alert_id}/letter")

    # I sent it; the outcome
    page.get_by_role("button", name="I sent it").click()
    expect(page).to_have_url(f"{s.base}/alerts/{alert_id}/letter")
    expect(page.locator(".lp-sent")).to_contain_text("You sent this letter on")
    expect(page.locator("#saved-letter")).to_have_text(EN_MINE)
    s.shot("sent")
    outcome = page.locator("#outcome")
    outcome.get_by_label("Note (optional)").fill("Printed on page A12 on Thursday")
    outcome.get_by_role("button", name="Letter published").click()
    expect(page).to_have_url(f"{s.base}/alerts/{alert_id}/letter#outcome")
    expect(outcome).to_contain_text("Outcomes recorded")
    expect(outcome.locator("ul li")).to_have_text("Letter published — Printed on page A12 on Thursday")
    s.shot("outcome")

    # the alert is closed, the outcome listed
    s.go(f"/alerts/{alert_id}")
    expect(page.locator(".status")).to_have_text("closed")
    expect(page.locator("#outcomes")).to_contain_text("letter published")
    expect(page.locator("#responder-panel")).to_contain_text("Robin Tremblay · sent")
    s.shot("alert-closed")

    # my claims
    nav.get_by_role("link", name="My claims").click()
    expect(page).to_have_url(f"{s.base}/my")
    mine_card = page.locator(f"#alert-{alert_id}")
    expect(mine_card).to_contain_text(title)
    expect(mine_card).to_contain_text("Status: closed")
    expect(mine_card).to_contain_text("Outcomes recorded: Letter published")
    expect(page.locator(".mc-section").first.locator(".mc-card")).to_have_count(0)  # nothing left to write
    s.shot("my", phone=True)

    # sign out
    nav.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{s.base}/login")
    assert SESSION_COOKIE not in {c["name"] for c in s.context.cookies()}
    detail = store.alert_detail(alert_id)
    assert detail is not None and detail.alert.status == "closed"


# ---------------------------------------------------------------------- French


def test_french_speaking_responder_writes_to_a_french_outlet(
    browse: Callable[[str], Session], settings: Settings, store: Store
) -> None:
    title = "Cinq morts dans une frappe à Gaza"
    alert_id = opened_alert(settings, store, title, FR_TEXT, outlet="courrier-du-fleuve", language="fr")
    email = person(store, "camille@example.org", language="fr", name="Camille Gagnon")
    s = browse("fr")
    page = s.page

    sign_in(s, email)
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    nav = page.locator("header nav")
    expect(nav.get_by_role("link", name="Mes alertes")).to_be_visible()
    expect(nav.get_by_role("link", name="File des alertes")).to_be_visible()
    expect(nav.get_by_role("button", name="Se déconnecter")).to_be_visible()
    card = page.locator(".alert-card", has_text=title)
    expect(card).to_contain_text("Le Courrier du Fleuve")
    s.shot("queue", phone=True)

    card.get_by_role("link").click()
    expect(page).to_have_url(f"{s.base}/alerts/{alert_id}")
    panel = page.locator("#responder-panel")
    expect(panel).to_contain_text("Lettres au média")
    expect(panel).to_contain_text("0 lettres prises sur 3")
    s.shot("alert", phone=True)
    panel.get_by_role("button", name="Prendre cette alerte").click()
    expect(panel).to_contain_text("Vous avez pris cette alerte. Écrivez votre lettre avec vos propres mots.")
    expect(panel).to_contain_text("Camille Gagnon · en rédaction")
    s.shot("claimed")

    panel.get_by_role("link", name="Écrire ma lettre").click()
    expect(page).to_have_url(f"{s.base}/alerts/{alert_id}/letter")
    editor = page.locator("#letter-body")
    expect(editor).to_have_attribute("lang", "fr")
    draft = editor.input_value()
    assert draft.startswith("Madame, Monsieur,") and title in draft
    expect(page.locator(".lp-editor")).to_contain_text(
        re.compile(r"Écrivez dans la langue du média\s?: français")
    )
    expect(page.locator(".lp-points h2")).to_have_text("Arguments")
    expect(page.locator("#word-limit")).to_have_text("200")
    rules = page.locator(".lp-rules")
    expect(rules).to_contain_text(re.compile(r"Nombre de mots maximal\s?: 200 mots"))
    expect(rules).to_contain_text("votre nom complet, votre ville, votre numéro de téléphone")
    expect(page.locator("#letter-check")).to_contain_text("Encore trop proche")
    s.shot("editor-draft", phone=True)

    long_letter = draft + "\n\n" + FR_PADDING
    fill_letter(page, long_letter)
    over = count_words(long_letter)
    assert over > 200
    expect_count(page, over, over=True)
    expect(page.locator("#letter-check")).to_contain_text(
        f"{over - 200} mots de trop : le média risque de couper ou de refuser votre lettre."
    )
    s.shot("editor-over-limit")

    fill_letter(page, FR_MINE)
    mine = count_words(FR_MINE)
    assert 8 < mine <= 200
    expect_count(page, mine, over=False)
    check = page.locator("#letter-check")
    expect(check).to_contain_text("Votre formulation vous appartient.")
    expect(check).not_to_contain_text("mots de trop")
    expect(check).not_to_contain_text("Encore trop proche")
    subject = "Frappe sur le marché de Gaza : qui a tiré ?"
    page.get_by_label("Objet").fill(subject)
    s.shot("editor-fits")

    page.get_by_role("button", name="Enregistrer ma lettre").click()
    expect(page.get_by_text("Votre lettre est enregistrée.")).to_be_visible()
    ready = page.locator("#send-ready")
    link = ready.get_by_role("link", name="Ouvrir dans ma messagerie")
    to, mail_subject, mail_body = mailto_parts(link.get_attribute("href") or "")
    assert (to, mail_subject, mail_body) == ("lettres@courrierdufleuve.example", subject, FR_MINE)
    expect(ready.get_by_role("button", name="Copier la lettre")).to_be_visible()
    s.shot("saved")

    page.get_by_role("button", name="Je l’ai envoyée").click()
    expect(page.locator(".lp-sent")).to_contain_text("Vous avez envoyé cette lettre le")
    s.shot("sent")
    outcome = page.locator("#outcome")
    expect(outcome.locator("h2")).to_have_text("Que s’est-il passé ?")
    outcome.get_by_label("Note (facultative)").fill("Note ajoutée sous l'article jeudi")
    outcome.get_by_role("button", name="Note de la rédaction").click()
    expect(outcome.locator("ul li")).to_have_text("Note de la rédaction — Note ajoutée sous l'article jeudi")
    s.shot("outcome")

    nav.get_by_role("link", name="Mes alertes").click()
    expect(page.locator("h1")).to_have_text("Mes alertes")
    card = page.locator(f"#alert-{alert_id}")
    expect(card).to_contain_text(re.compile(r"Statut\s?: fermée"))
    expect(card).to_contain_text(re.compile(r"Résultats indiqués\s?: Note de la rédaction"))
    s.shot("my", phone=True)

    nav.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(f"{s.base}/login")


def test_french_pages_are_in_french(
    browse: Callable[[str], Session], settings: Settings, store: Store
) -> None:
    """Headings, labels and button feedback follow the user's language on every page (the queue,
    the alert page, the copy buttons of the letter editor), not only in the responder panel."""
    alert_id = opened_alert(
        settings, store, "Cinq morts à Gaza", FR_TEXT, outlet="courrier-du-fleuve", language="fr"
    )
    email = person(store, "dominique@example.org", language="fr")
    found = store.user_login(email)
    assert found is not None
    store.claim(alert_id, found[0])
    store.save_letter(alert_id, found[0], "Objet", FR_MINE, False)
    s = browse("fr-pages")
    sign_in(s, email)
    page = s.page
    expect(page.locator("h1")).to_have_text("File des alertes")
    expect(page.locator(".alert-card").first).to_contain_text("Plainte")

    s.go(f"/alerts/{alert_id}/letter")
    copy = page.locator("button[data-copy=saved-letter]")
    expect(copy).to_have_text("Copier la lettre")
    copy.click()
    expect(copy).not_to_have_text("Copier la lettre")
    wrong = []
    if copy.inner_text() == "Copied":
        wrong.append("letter editor: the copy buttons say 'Copied'")

    s.go(f"/alerts/{alert_id}")
    s.shot("alert")
    headings = page.locator("main h2").all_inner_texts()
    wrong += [
        f"alert page: heading {h!r}"
        for h in headings
        if h in {"Evidence", "Suggested letter", "Article text"}
    ]
    summary = page.locator(".alert-detail > p", has_text="priorité").inner_text()
    wrong += [f"alert page: {w!r} in {summary!r}" for w in ("complaint", "severity") if w in summary.lower()]
    if "prise le" in summary:  # the status 'claimed' took the words of 'claimed on <date>'
        wrong.append(f"alert page: the status reads 'prise le' in {summary!r}")
    assert wrong == [], wrong


# ---------------------------------------------------------------------- analyst


def test_analyst_approves_a_new_alert_from_the_triage_queue(
    browse: Callable[[str], Session], settings: Settings, store: Store
) -> None:
    title = "Clashes leave dozens dead"
    alert_id = new_alert(settings, store, title, EN_TEXT)
    s = browse("triage")
    sign_in(s, person(store, "ana@example.org", role="analyst"), start="/triage")
    page = s.page
    row = page.locator(f"#triage-{alert_id}")
    expect(row).to_contain_text(title)
    s.shot("triage", phone=True)
    row.get_by_role("button", name="Approve", exact=True).click()
    expect(page.locator(f"#triage-{alert_id}")).to_contain_text("Approved: open to responders.")
    expect(page).to_have_url(f"{s.base}/triage")  # swapped in place
    s.shot("approved")
    detail = store.alert_detail(alert_id)
    assert detail is not None and detail.alert.status == "open"


# ---------------------------------------------------------------------- what the screenshots showed


def test_alert_summary_follows_a_claim_made_in_place(
    browse: Callable[[str], Session], settings: Settings, store: Store
) -> None:
    """The claim swaps the responder panel in place (htmx); the summary line under the headline
    (status, letters taken against the cap) must not keep saying nobody has claimed it."""
    alert_id = opened_alert(settings, store, "Five dead in Gaza strike", EN_TEXT)
    s = browse("claim-summary")
    sign_in(s, person(store, "sam@example.org"), start=f"/alerts/{alert_id}")
    summary = s.page.locator(".alert-detail > p", has_text="letters").first
    expect(summary).to_contain_text("0 of 3 letters")
    s.page.locator("#responder-panel").get_by_role("button", name="Claim this alert").click()
    expect(s.page.locator("#responder-panel")).to_contain_text("1 of 3 letters taken")
    expect(summary).to_contain_text("1 of 3 letters")


def test_navigation_keeps_each_item_whole_on_one_line(
    browse: Callable[[str], Session], settings: Settings, store: Store
) -> None:
    """Sign out sits in the navigation like the links beside it (not dropped onto a line of its
    own), and on a phone no item breaks in the middle ("Mes / alertes")."""
    s = browse("nav")
    sign_in(s, person(store, "claude@example.org", language="fr"))
    nav = s.page.locator("header nav")
    account = nav.get_by_role("link", name="Compte").bounding_box()
    sign_out = nav.get_by_role("button", name="Se déconnecter").bounding_box()
    assert account and sign_out
    assert sign_out["y"] < account["y"] + account["height"], (account, sign_out)  # same line
    s.page.set_viewport_size(PHONE)
    broken = s.page.evaluate(
        "[...document.querySelectorAll('header nav a, header nav button')]"
        ".filter(e => e.getClientRects().length > 1).map(e => e.textContent.trim())"
    )
    assert broken == [], f"navigation items broken across lines on a phone: {broken}"
