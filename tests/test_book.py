"""The book (``make docs``: site/) read in a real browser: Debian's headless Chromium, driven by Selenium.

``site/`` is served on 127.0.0.1 by ``http.server`` in a thread. Every page is loaded once and
checked: no JavaScript console error, no failed request, no request to any other host, every
internal link and anchor resolves, math is typeset by MathJax. Then the framework tabs (a click
on "JAX" switches every tab set and the choice holds on the next page), the search, the theme
toggle, and screenshots of three pages at desktop and phone widths (saved in
``site/_screenshots/``), with no page wider than a phone's screen.

``tox -e docs`` builds the site, then runs this file. Without Chromium, chromedriver or
selenium (``apt-get install chromium chromium-driver``), or before the site is built, it skips.
"""

from __future__ import annotations

import ast
import functools
import http.server
import json
import re
import shutil
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest

import lstm_multi
from lstm_multi.backend import BACKENDS

REPO = Path(__file__).resolve().parents[1]
SITE, PACKAGE = REPO / "site", REPO / "lstm_multi"  # the book is built from this checkout's source
SCREENSHOTS = SITE / "_screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FRAMEWORKS = ("PyTorch", "TensorFlow", "JAX", "MXNet", "NumPy")
DESKTOP, PHONE = (1280, 900), (390, 844)  # CSS pixels; the phone is an iPhone 12's screen

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (tox -e docs installs it)")
if not (SITE / "index.html").exists():
    pytest.skip("site/ is not built: make docs", allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

# one pytest-xdist worker runs this module: its tests share the module's fixtures
pytestmark = pytest.mark.xdist_group("book")


def pages() -> list[str]:
    """Every HTML page of the site, as a path from its root."""
    found = (path.relative_to(SITE).as_posix() for path in SITE.rglob("*.html"))
    return sorted(page for page in found if not page.startswith(("_static/", "_sources/", "_images/", "_screenshots/")))


class Server(http.server.ThreadingHTTPServer):
    """site/ on 127.0.0.1 at a free port; ``served`` records (path, status) of every request."""

    def __init__(self) -> None:
        self.served: list[tuple[str, int]] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                status = int(code) if isinstance(code, int) or code.isdigit() else 0  # HTTPStatus is an int
                server.served.append((self.path, status))

        super().__init__(("127.0.0.1", 0), functools.partial(Handler, directory=str(SITE)))
        self.url = f"http://127.0.0.1:{self.server_address[1]}/"


@pytest.fixture(scope="module")
def server():
    httpd = Server()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() or not Path(CHROMEDRIVER).exists():
        pytest.skip("no Chromium here: apt-get install -y chromium chromium-driver (.ci/run does it)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={DESKTOP[0]},{DESKTOP[1]}"):  # fmt: skip
        options.add_argument(argument)
    # the console (errors) and the network events (every request, its status) of each page
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def open_page(driver, url: str) -> None:
    """Load ``url`` and wait until MathJax (where the page has it) has typeset it."""
    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    WebDriverWait(driver, 30).until(  # a page with math: MathJax has started
        lambda d: d.execute_script("return !document.querySelector('.math') || !!(window.MathJax?.startup?.promise)")
    )
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "if (window.MathJax && MathJax.startup && MathJax.startup.promise)"
        "  MathJax.startup.promise.then(() => done(true), () => done(false)); else done(true);"
    )


def network(driver) -> tuple[list[str], list[str]]:
    """The URLs the page requested, and each failed request with why (since the last call)."""
    urls: dict[str, str] = {}  # request id -> URL
    failed = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.responseReceived" and params["response"]["status"] >= 400:
            failed.append(f"{params['response']['url']}: HTTP {params['response']['status']}")
        elif message["method"] == "Network.loadingFailed" and not params.get("canceled"):
            failed.append(f"{urls.get(params['requestId'], params['requestId'])}: {params.get('errorText')}")
    return list(urls.values()), failed


class Anchors(HTMLParser):
    """The ids (and a names) a page defines: what ``page.html#anchor`` may point to."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (name == "id" or (tag == "a" and name == "name")):
                self.ids.add(value)


@functools.cache
def anchors(path: str) -> frozenset[str]:
    parser = Anchors()
    parser.feed((SITE / path).read_text(encoding="utf-8"))
    return frozenset(parser.ids)


def broken_links(hrefs: list[str], base: str) -> list[str]:
    """The internal links among ``hrefs`` whose file or anchor does not exist."""
    broken = []
    for href in hrefs:
        if not href.startswith(base):
            continue  # another host: a link a reader may follow, never a request the page makes
        url, fragment = urldefrag(href)
        path = unquote(urlsplit(url).path).lstrip("/") or "index.html"
        target = SITE / path
        if target.is_dir():
            target, path = target / "index.html", f"{path.rstrip('/')}/index.html".lstrip("/")
        if not target.is_file():
            broken.append(f"{href}: no file {path}")
        elif fragment and path.endswith(".html") and unquote(fragment) not in anchors(path):
            broken.append(f"{href}: no anchor #{fragment} in {path}")
    return broken


def test_every_page_loads_clean_and_offline(browser, server):
    """Each page: no console error, every request to 127.0.0.1 and answered, links resolve, math typeset."""
    problems: dict[str, list[str]] = {}
    with_math = []
    all_pages = pages()
    assert len(all_pages) >= 20, all_pages  # README, 8 notebooks, docs, benchmarks, cells, CLI, API, ...
    browser.get_log("browser"), browser.get_log("performance")  # start empty
    for page in all_pages:
        open_page(browser, server.url + page)
        found = []
        errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        found += [f"console: {message}" for message in errors]
        requested, failed = network(browser)
        found += [f"request to another host: {url}" for url in requested if urlsplit(url).hostname not in
                  ("127.0.0.1", None) and not url.startswith(("data:", "blob:", "about:"))]  # fmt: skip
        found += [f"failed request: {why}" for why in failed]
        hrefs = browser.execute_script("return Array.from(document.querySelectorAll('a[href]'), a => a.href)")
        found += broken_links(hrefs, server.url)
        math = browser.execute_script(
            "return [document.querySelectorAll('.math').length, document.querySelectorAll('mjx-container').length,"
            " document.querySelectorAll('mjx-merror').length]"
        )
        if math[0]:
            with_math.append(page)
            if math[1] < math[0] or math[2]:
                found.append(f"math: {math[0]} formulas, {math[1]} typeset, {math[2]} with a TeX error")
        if found:
            problems[page] = found
    assert not problems, json.dumps(problems, indent=1)
    assert {"docs/cells.html", "notebooks/01_lstm_from_scratch_four_ways.html"} <= set(with_math), with_math
    assert not [s for s in server.served if s[1] >= 400], [s for s in server.served if s[1] >= 400]


def selected_tabs(driver) -> list[tuple[str, str]]:
    """Per tab set on the page: (the label of the checked tab, the text of the code shown)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('.sd-tab-set'), set => {"
        "  const input = set.querySelector(':scope > input:checked');"
        "  const label = input.nextElementSibling, content = label.nextElementSibling;"
        "  return [label.textContent.trim(), content.innerText];"
        "})"
    )


def test_framework_tabs_switch_together_and_hold_on_the_next_page(browser, server):
    open_page(browser, server.url + "docs/cells.html")
    browser.execute_script("localStorage.clear()")
    open_page(browser, server.url + "docs/cells.html")
    tabs = selected_tabs(browser)
    assert len(tabs) == 11  # step, layer, native layer for LSTM, GRU, RNN; step and layer for peepholes
    assert {label for label, _ in tabs} == {"PyTorch"}  # the first tab until a reader chooses
    labels = browser.find_elements(By.CSS_SELECTOR, "label.sd-tab-label")
    assert sorted({label.text for label in labels}) == sorted(FRAMEWORKS)
    next(label for label in labels if label.text == "JAX").click()
    tabs = selected_tabs(browser)
    assert [label for label, _ in tabs] == ["JAX"] * 11
    for _, code in tabs:  # the code shown is JAX's, cut from the package: its file is named above it
        assert "lstm_multi/backends/jax/" in code, code[:200]
    assert "jax.nn.sigmoid" in tabs[0][1] and "def lstm_step(" in tabs[0][1]
    # the next page with framework tabs opens on JAX too (sphinx-design keeps the choice in localStorage)
    open_page(browser, server.url + "docs/teachers.html")
    tabs = selected_tabs(browser)
    assert [label for label, _ in tabs] == ["JAX"]
    assert "lstm-multi exercise lstm_step --backend jax" in tabs[0][1] and "import jax.numpy as jnp" in tabs[0][1]


def test_search_finds_the_forget_gate(browser, server):
    open_page(browser, server.url + "search.html?q=forget+gate")
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results li"))
    results = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#search-results li a")]
    pages_found = {urlsplit(url).path.lstrip("/") for url in results}
    assert {"docs/cells.html", "notebooks/03_inside_the_gates.html"} <= pages_found, pages_found


def test_light_and_dark_theme(browser, server):
    open_page(browser, server.url + "README.html")
    themes = []
    for _ in range(3):  # furo's toggle cycles auto -> dark -> light (or from the stored choice)
        browser.find_element(By.CSS_SELECTOR, ".content-icon-container .theme-toggle").click()
        themes.append(browser.execute_script("return document.body.dataset.theme"))
    assert {"light", "dark"} <= set(themes), themes
    background = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert background.startswith("rgb"), background


@pytest.mark.parametrize("page", ["README.html", "docs/cells.html", "notebooks/03_inside_the_gates.html"])
def test_screenshots_desktop_and_phone(browser, server, page):
    SCREENSHOTS.mkdir(exist_ok=True)
    name = page.replace("/", "_").removesuffix(".html")
    for size, (width, height) in (("desktop", DESKTOP), ("phone", PHONE)):
        browser.set_window_rect(width=width, height=height)
        open_page(browser, server.url + page)
        time.sleep(0.2)  # the layout settles after the resize
        window, page_width = browser.execute_script("return [innerWidth, document.documentElement.scrollWidth]")
        assert page_width <= window + 1, f"{page}, {size}: {page_width} px wide in a {window} px window"
        shot = SCREENSHOTS / f"{name}-{size}.png"
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")
    browser.set_window_rect(width=DESKTOP[0], height=DESKTOP[1])


def test_the_cli_and_api_reference_are_the_code():
    """The CLI page shows every option of every command (from the parser itself), the API page
    every public name of the package and of each backend."""
    import argparse

    from lstm_multi.cli import COMMANDS, build_parser

    cli = (SITE / "docs" / "cli.html").read_text(encoding="utf-8")
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for command in COMMANDS:
        options = [o for action in subparsers.choices[command]._actions for o in action.option_strings]
        missing = [o for o in options if o not in cli]
        assert f"lstm-multi-{command}" in anchors("docs/cli.html") and not missing, (command, missing)

    api = anchors("docs/api.html")
    names = [f"lstm_multi.{name}" for name in lstm_multi.__all__]
    for backend in BACKENDS:  # read from the source: importing a backend would import its framework
        names += [f"lstm_multi.backends.{backend}.{name}" for name in exported_names(backend)]
    missing = [name for name in names if name not in api]
    assert len(names) > 100 and not missing, missing


def exported_names(backend: str) -> list[str]:
    """A backend's ``__all__``, read from its ``__init__.py``."""
    tree = ast.parse((PACKAGE / "backends" / backend / "__init__.py").read_text(encoding="utf-8"))
    return next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets)
    )


def test_the_notebooks_show_their_stored_outputs():
    """Each notebook's page has every figure its .ipynb stores (rendered, not run again)."""
    import nbformat

    notebooks = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert len(notebooks) == 8
    total = 0
    for notebook in notebooks:
        stored = nbformat.read(notebook, as_version=4)
        figures = sum(
            "image/png" in output.get("data", {})
            for cell in stored.cells
            if cell.cell_type == "code"
            for output in cell.outputs
        )
        html = (SITE / "notebooks" / f"{notebook.stem}.html").read_text(encoding="utf-8")
        images = re.findall(r'<img [^>]*src="\.\./(_images/[^"]+)"', html)
        assert len(images) >= figures, f"{notebook.name}: {figures} figures stored, {len(images)} on its page"
        assert all((SITE / image).stat().st_size > 1000 for image in images)
        total += figures
    assert total >= 15  # 18 as written: curves, heatmaps, forecasts, speed charts
