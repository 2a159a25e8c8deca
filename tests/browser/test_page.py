"""The web page in a real browser: headless Chromium (Debian's chromium + chromium-driver, through
python3-selenium) drives the page that `encore serve` serves for a small store this test builds:
search an artist, open it, see related items from each model, start a radio, press thumbs up and
thumbs down, and check the queue against the radio rules of docs/api.md, worked out here from the
store's own radio lists. Screenshots go to ENCORE_BUILD_DIR (build/).

Run: ENCORE_CLI=build/encore ENCORE_BUILD_DIR=build python3 -m pytest tests/browser -q
"""
import json
import os
import shutil
import socket
import sqlite3
import struct
import subprocess
import tempfile
import time
import urllib.request

import pytest

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ENCORE = os.environ.get("ENCORE_CLI", "build/encore")
BUILD = os.environ.get("ENCORE_BUILD_DIR", "build")
CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served():
    if not CHROMIUM or not os.path.exists(DRIVER):
        pytest.skip("chromium / chromium-driver not installed (scripts/setup.sh installs them)")
    tmp = tempfile.mkdtemp(prefix="encore-page-")
    run = lambda *a: subprocess.run([ENCORE, *a, "--quiet"], check=True)  # noqa: E731
    run("synth", "--users", "800", "--items", "300", "--seed", "3", "-o", f"{tmp}/plays.tsv")
    run("train", f"{tmp}/plays.tsv", "--format", "lastfm360k", "--factors", "16", "-o", f"{tmp}/als.encm")
    run("train", f"{tmp}/plays.tsv", "--format", "lastfm360k", "--model", "lsa", "--factors", "16", "-o", f"{tmp}/lsa.encm")
    run("precompute", f"{tmp}/als.encm", f"{tmp}/lsa.encm", "--radio", "40", "--recommendations", "10", "-o", f"{tmp}/store.db")
    port = free_port()
    server = subprocess.Popen([ENCORE, "serve", f"{tmp}/store.db", "--port", str(port), "--sessions",
                               f"{tmp}/sessions.db", "--quiet"])
    base = f"http://127.0.0.1:{port}"
    for _ in range(500):
        try:
            urllib.request.urlopen(base + "/health")
            break
        except OSError:
            time.sleep(0.01)
    yield base, f"{tmp}/store.db"
    server.terminate()
    server.wait()
    shutil.rmtree(tmp)


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


class Rules:
    """The radio rules (docs/api.md) with shuffle off, from the store's radio lists: what the queue
    must be after each step."""

    def __init__(self, store, seed_key):
        db = sqlite3.connect(store)
        self.index = {k: i for i, k in db.execute("SELECT idx, key FROM items")}
        self.key = {i: k for k, i in self.index.items()}
        self.lists = {}
        for item, blob in db.execute("SELECT item, neighbours FROM radio"):
            self.lists[item] = [struct.unpack_from("<if", blob, 8 * k) for k in range(len(blob) // 8)]
        seed = self.index[seed_key]
        self.weights = {seed: 1.0}
        for j, s in self.lists[seed]:
            self.weights[j] = max(self.weights.get(j, 0.0), max(max(s, 0.0), 0.01))
        self.played, self.banned = [seed], set()

    def queue(self, n):
        open_ = [(-w, i) for i, w in self.weights.items() if i not in self.played and i not in self.banned]
        return [self.key[i] for _, i in sorted(open_)[:n]]

    def play(self, key):
        self.played.append(self.index[key])

    def up(self, key):
        for j, s in self.lists[self.index[key]][:50]:
            if j not in self.banned:
                self.weights[j] = max(self.weights.get(j, 0.0) + max(s, 0.0), 0.01)

    def down(self, key):
        x = self.index[key]
        self.banned.add(x)
        self.weights.pop(x, None)
        for j, s in self.lists[x][:50]:
            if j in self.weights:
                self.weights[j] = max(self.weights[j] * (1 - 0.5 * max(s, 0.0)), 0.01)


def queue_on_page(driver):
    # Read in one script: the list is re-rendered as answers arrive (elements found earlier go stale).
    return driver.execute_script("return [...document.querySelectorAll('#queue li')].map((li) => li.dataset.id)")


def test_search_item_page_and_radio(served, browser):
    base, store = served
    health = json.load(urllib.request.urlopen(base + "/health"))
    top = json.load(urllib.request.urlopen(base + "/items?q=&n=1"))["results"][0]
    wait = WebDriverWait(browser, 20)

    # Search by the first letters, in another case, and pick the artist from the suggestions.
    browser.get(base + "/")
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "#/")
    box = browser.find_element(By.ID, "search")
    box.send_keys(top["name"][:3].upper())
    option = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f'#suggestions li[data-id="{top["id"]}"]'))
    option.click()
    wait.until(lambda d: d.find_element(By.ID, "item-title").text == top["name"])

    # Related items from each stored model, side by side.
    columns = browser.find_elements(By.CSS_SELECTOR, ".column[data-model]")
    assert [c.get_attribute("data-model") for c in columns] == health["models"] == ["ensemble", "als", "lsa"]
    for c in columns:
        assert len(c.find_elements(By.CSS_SELECTOR, "li")) == 20
        assert top["id"] not in [li.get_attribute("data-id") for li in c.find_elements(By.CSS_SELECTOR, "li")]
    browser.save_screenshot(os.path.join(BUILD, "page-item.png"))

    # Radio without shuffle: the seed plays first, then the queue follows the weights.
    rules = Rules(store, top["id"])
    browser.find_element(By.ID, "shuffle").click()
    browser.find_element(By.ID, "start-radio").click()
    wait.until(lambda d: d.find_element(By.ID, "now-title").get_attribute("data-id") == top["id"])
    wait.until(lambda d: queue_on_page(d) == rules.queue(12))

    # Next: the head of the queue plays.
    head = rules.queue(1)[0]
    browser.find_element(By.ID, "btn-next").click()
    wait.until(lambda d: d.find_element(By.ID, "now-title").get_attribute("data-id") == head)
    rules.play(head)
    wait.until(lambda d: queue_on_page(d) == rules.queue(12))

    # Thumbs up on what plays: its neighbours gain weight and move up.
    before = rules.queue(12)
    browser.find_element(By.ID, "btn-up").click()
    rules.up(head)
    assert rules.queue(12) != before, "the store's lists should make a thumbs up visible"
    wait.until(lambda d: queue_on_page(d) == rules.queue(12))
    browser.save_screenshot(os.path.join(BUILD, "page-radio-up.png"))

    # Thumbs down: the track is banned, its neighbours drop, and the next track plays.
    browser.find_element(By.ID, "btn-down").click()
    rules.down(head)
    after_down = rules.queue(1)[0]
    wait.until(lambda d: d.find_element(By.ID, "now-title").get_attribute("data-id") == after_down)
    rules.play(after_down)
    wait.until(lambda d: queue_on_page(d) == rules.queue(12))
    assert head not in queue_on_page(browser)
    browser.save_screenshot(os.path.join(BUILD, "page-radio-down.png"))

    # The server's own view of the session agrees.
    session = browser.find_element(By.ID, "player").get_attribute("data-session")
    state = json.load(urllib.request.urlopen(f"{base}/radio/{session}?n=12"))
    assert [t["id"] for t in state["queue"]] == rules.queue(12)
    assert [t["id"] for t in state["played"]] == [rules.key[i] for i in rules.played]


def test_user_page_shows_reasons(served, browser):
    base, store = served
    user = sqlite3.connect(store).execute("SELECT key FROM users ORDER BY idx LIMIT 1").fetchone()[0]
    browser.get(f"{base}/#/user/{user}")
    wait = WebDriverWait(browser, 20)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#recommendations li")) == 10)
    assert browser.find_elements(By.CSS_SELECTOR, "#recommendations .because")
    browser.save_screenshot(os.path.join(BUILD, "page-user.png"))
